#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mlops.mlflow maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mlflow_migrate
short_description: Migrate MLflow's tracking and auth database schemas exactly once
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Brings the tracking database and the basic-auth database of an MLflow server to the schema heads of a TARGET
    MLflow version, in that order, and reports the revisions before and after.
  - MLflow migrations are one-way and not guaranteed to be transactional, so the module first reads the target's
    migration graphs and the databases' current revisions and refuses, changing nothing, what cannot work - a
    database at a revision the target does not know (migrated by a newer MLflow), tracking and auth in one
    database with a target before MLflow 3.6 (both chains would share the C(alembic_version) table), an
    unreachable database.
  - Idempotent - a run with nothing pending changes nothing and reports C(changed=false). An empty database (no
    MLflow tables, no revision) is left alone with a warning; the MLflow server creates its schema on first start.
  - The work is done by a small helper program run by the Python of the target MLflow, which calls the functions
    behind C(mlflow db upgrade) and C(python -m mlflow.server.auth db upgrade) in-process. The database URIs reach
    it through environment variables, never a command line.
  - I(mode=local) runs that helper on the Ansible host against the URIs given. I(mode=job) runs it as a Kubernetes
    Job with the target image, the URIs read from Secrets, and waits for it.
  - Take a database backup before migrating; the only way back from a migration is restoring that backup.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
attributes:
  check_mode:
    support: full
    details:
      - In local mode, check mode reads the revisions, reports in RV(pending) what a real run would apply, and
        reports C(changed=true) exactly when a real run would migrate.
      - In job mode the databases are only reachable from the cluster; check mode checks the Secrets and creates
        the Job with a server-side dry-run, and cannot know the revisions (C(changed) is false, with a warning
        that says so); a real run with O(plan_only=true) reads them with a read-only Job.
  diff_mode:
    support: full
    details:
      - The revisions of each chain, before and after (predicted in check mode). No URI is shown.
  platform:
    platforms: posix
options:
  mode:
    description:
      - C(local) runs the migration from the Ansible host against I(backend_store_uri) and I(auth_db_uri).
      - C(job) runs it in the cluster as a Job with I(image), the URIs read from the Secrets
        I(tracking_uri_secret) and I(auth_uri_secret).
    type: str
    choices: [local, job]
    default: local
  backend_store_uri:
    description:
      - SQLAlchemy URI of the tracking database (the server's C(--backend-store-uri)). Local mode only, required
        there.
    type: str
  auth_db_uri:
    description:
      - SQLAlchemy URI of the basic-auth database (C(database_uri) in basic-auth.ini). Local mode only.
      - Without it only the tracking database is migrated and RV(auth) is null.
    type: str
  mlflow_python:
    description:
      - Path of a Python interpreter that has the TARGET MLflow installed (with C(mlflow[auth]) and the database
        driver), typically C(<venv>/bin/python). Local mode only.
      - Defaults to the Python running this module, which must then be able to import MLflow.
    type: path
  connect_timeout:
    description:
      - Seconds to wait when connecting to a database before declaring it unreachable.
    type: int
    default: 10
  namespace:
    description:
      - Namespace of the Job and the Secrets. Job mode only, required there.
    type: str
  image:
    description:
      - Image with the TARGET MLflow (with C(mlflow[auth]) and the database driver). Job mode only, required there.
    type: str
  tracking_uri_secret:
    description:
      - The Secret key holding the tracking database URI. Job mode only; this or I(tracking_uri) is required
        there.
    type: dict
    suboptions:
      name:
        description: Name of the Secret.
        type: str
        required: true
      key:
        description: Key in the Secret; C(uri) is the key of CloudNativePG's C(<cluster>-app) Secret.
        type: str
        default: uri
  tracking_uri:
    description:
      - The tracking database URI without credentials, e.g. C(postgresql+psycopg2:///mlflow); libpq takes the host,
        user and password from I(env) (C(PGHOST), C(PGUSER), C(PGPASSWORD) from the cluster's application Secret),
        as the chart's server does. Job mode only; an alternative to I(tracking_uri_secret).
      - Use it for a CloudNativePG Cluster whose application Secret the user provides (C(bootstrap.recovery.secret));
        such a Secret holds C(username) and C(password) only, no C(uri).
      - A URI with a password is refused, since it would be stored in the Job's spec.
    type: str
  auth_uri_secret:
    description:
      - The Secret key holding the auth database URI. Job mode only; without it only the tracking database is
        migrated.
    type: dict
    suboptions:
      name:
        description: Name of the Secret.
        type: str
        required: true
      key:
        description: Key in the Secret.
        type: str
        default: uri
  auth_config_secret:
    description:
      - The Secret key holding C(basic-auth.ini) (the server's C(mlflow-auth-config)); its C([mlflow] database_uri)
        is the auth database. Job mode only; an alternative to O(auth_uri_secret), so the URI has one source.
      - The Job mounts that key as a file and reads the URI the way MLflow does (C(%%) is a literal C(%)).
    type: dict
    suboptions:
      name:
        description: Name of the Secret.
        type: str
        required: true
      key:
        description: Key in the Secret.
        type: str
        default: basic-auth.ini
  plan_only:
    description:
      - Only read the current revisions and the target's heads and report RV(pending); never migrate, and report
        C(changed=false). Unlike check mode this also works in job mode, by running a read-only Job (it creates
        and deletes that Job).
    type: bool
    default: false
  job_name_prefix:
    description:
      - The Job is named C(<job_name_prefix>-<8 random hex digits>), a new name on every run.
    type: str
    default: mlflow-migrate
  python_command:
    description:
      - The Python executable in I(image) that has MLflow.
    type: str
    default: python
  service_account_name:
    description:
      - Service account of the Job's pod.
    type: str
  image_pull_policy:
    description:
      - Pull policy of the Job's container.
    type: str
    choices: [Always, IfNotPresent, Never]
  resources:
    description:
      - Container resources (C(requests)/C(limits)) of the Job.
    type: dict
  env:
    description:
      - More environment variables for the Job's container, as Kubernetes C(EnvVar) objects, for example
        C(PGHOST)/C(PGPASSWORD) from CloudNativePG's C(<cluster>-app) Secret when the URIs rely on libpq's
        variables (C(postgresql+psycopg2:///mlflow_auth)).
    type: list
    elements: dict
  wait_timeout:
    description:
      - Seconds to wait for the Job to finish. A Job still running then is left running (interrupting a migration
        is worse than waiting) and the task fails with its name.
    type: int
    default: 1800
  wait_sleep:
    description:
      - Seconds between two checks of the Job.
    type: int
    default: 5
  keep_failed_job:
    description:
      - Keep a failed Job (and its pod and log) for inspection instead of deleting it. A successful Job is always
        deleted.
    type: bool
    default: false
notes:
  - MLflow up to 3.5 keeps the auth revision in C(alembic_version), like the tracking chain; 3.6 moved it to
    C(alembic_version_auth) and stamps a pre-3.6 auth database at the first auth revision before upgrading it.
    The module reads both tables accordingly.
  - Upgrading to MLflow 3.16 or later with an admin that still has the old default password locks that admin out;
    give the server a new admin password (C(MLFLOW_AUTH_ADMIN_PASSWORD), at least 12 characters). The migration
    itself does not touch users; the module warns, naming the admins concerned, when the target is 3.16 or later.
requirements:
  - In local mode, a Python with the target MLflow (I(mlflow_python)).
seealso:
  - name: MLflow database migrations
    description: What C(mlflow db upgrade) does.
    link: https://mlflow.org/docs/latest/self-hosting/architecture/backend-store/
"""

EXAMPLES = r"""
- name: Preview the migrations MLflow 3.5.0 would run
  mlops.mlflow.mlflow_migrate:
    backend_store_uri: "{{ tracking_uri }}"
    auth_db_uri: "{{ auth_uri }}"
    mlflow_python: /opt/mlflow-3.5.0/bin/python
  check_mode: true
  register: preview

- name: Migrate both databases from this host
  mlops.mlflow.mlflow_migrate:
    mode: local
    backend_store_uri: "{{ tracking_uri }}"
    auth_db_uri: "{{ auth_uri }}"
    mlflow_python: /opt/mlflow-3.5.0/bin/python
  register: migration

- name: Migrate in the cluster with the new image, URIs from Secrets
  mlops.mlflow.mlflow_migrate:
    mode: job
    namespace: mlflow
    image: image-registry.openshift-image-registry.svc:5000/mlflow/mlflow:v3.5.0
    tracking_uri_secret:
      name: pg-cluster-v1-app
      key: uri
    auth_uri_secret:
      name: mlflow-auth-db
      key: uri
    wait_timeout: 3600
    keep_failed_job: true
  register: migration

- name: Migrate a recovered cluster whose app Secret the user provides (username and password only, no uri)
  mlops.mlflow.mlflow_migrate:
    mode: job
    namespace: mlflow
    image: image-registry.openshift-image-registry.svc:5000/mlflow/mlflow:v3.5.0
    tracking_uri: postgresql+psycopg2:///mlflow
    env:
      - name: PGHOST
        value: pg-cluster-v2-rw
      - name: PGUSER
        valueFrom:
          secretKeyRef:
            name: mlflow-db-credentials
            key: username
      - name: PGPASSWORD
        valueFrom:
          secretKeyRef:
            name: mlflow-db-credentials
            key: password
    auth_config_secret:
      name: mlflow-auth-config

- name: Say what happened
  ansible.builtin.debug:
    msg: >-
      tracking {{ migration.tracking.before }} -> {{ migration.tracking.after }},
      auth {{ migration.auth.before | default('-') }} -> {{ migration.auth.after | default('-') }}
"""

RETURN = r"""
tracking:
  description:
    - Revisions of the tracking database. Null when the module stopped before it could read them.
    - C(before) and C(after) are null for an empty database.
  returned: always
  type: dict
  contains:
    before:
      description: Revision before the run.
      type: str
      sample: 0584bdc529eb
    after:
      description: Revision after the run (the same as C(before) in check mode, after a refusal, or when nothing was pending).
      type: str
      sample: bf29a5ff90ea
    head:
      description: Head revision of the target MLflow.
      type: str
      sample: bf29a5ff90ea
  sample: {"before": "0584bdc529eb", "after": "bf29a5ff90ea", "head": "bf29a5ff90ea"}
auth:
  description:
    - Revisions of the auth database, as for RV(tracking). Null when no auth database is given.
  returned: always
  type: dict
  sample: {"before": "8606fa83a998", "after": "8606fa83a998", "head": "8606fa83a998"}
pending:
  description:
    - Revisions not applied when the module finished, per chain, in the order they run. In check mode, what a
      real run would apply; after a successful run, empty lists. Null in job mode's check mode.
  returned: always
  type: dict
  sample: {"tracking": ["867495a8f9d4", "bf29a5ff90ea"], "auth": []}
mlflow_version:
  description: Version of the target MLflow.
  returned: when the helper ran
  type: str
  sample: 3.5.0
notes:
  description: Remarks about the databases (an empty database, an auth database from before MLflow 3.6).
  returned: always
  type: list
  elements: str
  sample: ["auth database from MLflow < 3.6 (no alembic_version_auth yet)"]
duration:
  description: Seconds the module took.
  returned: always
  type: float
  sample: 12.3
job_name:
  description: Name of the Job (job mode).
  returned: in job mode
  type: str
  sample: mlflow-migrate-3f9c2a1b
job_kept:
  description: Whether the Job was left in the cluster (a failed Job with I(keep_failed_job), or a Job that did not finish in time).
  returned: in job mode, when not in check mode
  type: bool
  sample: false
log_tail:
  description:
    - The last lines of the helper's output (local mode) or of the Job's pod log (job mode), with passwords masked.
  returned: when the helper ran
  type: str
  sample: "INFO  [alembic.runtime.migration] Running upgrade 867495a8f9d4 -> bf29a5ff90ea"
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate import run_migrate

# These options name a Secret; they hold no secret themselves.
SECRET_REFERENCE = {"name": {"type": "str", "required": True}, "key": {"type": "str", "default": "uri", "no_log": False}}
INI_REFERENCE = {"name": {"type": "str", "required": True},
                 "key": {"type": "str", "default": "basic-auth.ini", "no_log": False}}

ARGUMENT_SPEC = dict(
    mode=dict(type="str", choices=["local", "job"], default="local"),
    backend_store_uri=dict(type="str", no_log=True),
    auth_db_uri=dict(type="str", no_log=True),
    mlflow_python=dict(type="path"),
    connect_timeout=dict(type="int", default=10),
    namespace=dict(type="str"),
    image=dict(type="str"),
    tracking_uri_secret=dict(type="dict", options=SECRET_REFERENCE, no_log=False),
    tracking_uri=dict(type="str"),
    auth_uri_secret=dict(type="dict", options=SECRET_REFERENCE, no_log=False),
    auth_config_secret=dict(type="dict", options=INI_REFERENCE, no_log=False),
    plan_only=dict(type="bool", default=False),
    job_name_prefix=dict(type="str", default="mlflow-migrate"),
    python_command=dict(type="str", default="python"),
    service_account_name=dict(type="str"),
    image_pull_policy=dict(type="str", choices=["Always", "IfNotPresent", "Never"]),
    resources=dict(type="dict"),
    env=dict(type="list", elements="dict"),
    wait_timeout=dict(type="int", default=1800),
    wait_sleep=dict(type="int", default=5),
    keep_failed_job=dict(type="bool", default=False),
)


def main():
    module = CollectionModule(
        ARGUMENT_SPEC, cluster=True, supports_check_mode=True,
        mutually_exclusive=[("auth_uri_secret", "auth_config_secret"), ("tracking_uri_secret", "tracking_uri")],
        required_if=[("mode", "local", ["backend_store_uri"]),
                     ("mode", "job", ["namespace", "image"]),
                     ("mode", "job", ["tracking_uri_secret", "tracking_uri"], True)],
    )
    module.execute(run_migrate)


if __name__ == "__main__":
    main()
