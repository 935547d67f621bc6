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
attributes:
  check_mode:
    support: full
    details:
      - In local mode, check mode reads the revisions, reports in RV(pending) what a real run would apply, and
        reports C(changed=true) exactly when a real run would migrate.
      - In job mode the databases are only reachable from the cluster; check mode checks the Secrets and creates
        the Job with a server-side dry-run, and cannot know the revisions (C(changed) is false, with a warning).
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
      - The Secret key holding the tracking database URI. Job mode only, required there.
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
  - In job mode, the C(kubernetes) Python library on the Ansible host.
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

import sys
import time
import traceback

from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.service import K8sService
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.waiter import Waiter, job_complete
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_job import (
    JobError,
    JobRun,
    build_job_manifest,
    job_name,
    job_outcome,
    job_state,
    new_run_token,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_local import (
    check_python,
    run_local,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import uri_secrets

LOCAL_ONLY = ("backend_store_uri", "auth_db_uri", "mlflow_python")
JOB_ONLY = ("namespace", "image", "tracking_uri_secret", "auth_uri_secret", "auth_config_secret", "env")
# These options name a Secret; they hold no secret themselves.
SECRET_REFERENCE = {"name": {"type": "str", "required": True}, "key": {"type": "str", "default": "uri", "no_log": False}}
INI_REFERENCE = {"name": {"type": "str", "required": True},
                 "key": {"type": "str", "default": "basic-auth.ini", "no_log": False}}
RESULT_KEYS = ("tracking", "auth", "pending", "mlflow_version", "notes", "log_tail")


class MigrationFailed(CollectionError):
    """The run could not be completed; `result` carries what is known (revisions now, log tail)."""

    def __init__(self, msg, result=None):
        super().__init__(msg)
        # The helper's whole outcome (its own "msg" among it); main() picks the keys a failure returns.
        self.result = result or {}


class MigrateModule(AnsibleK8SModule):
    """AnsibleK8SModule (client, dry-run, redaction for job mode) that also exposes the AnsibleModule."""

    @property
    def ansible(self):
        return self._module


def argument_spec():
    spec = dict(
        mode=dict(type="str", choices=["local", "job"], default="local"),
        backend_store_uri=dict(type="str", no_log=True),
        auth_db_uri=dict(type="str", no_log=True),
        mlflow_python=dict(type="path"),
        connect_timeout=dict(type="int", default=10),
        namespace=dict(type="str"),
        image=dict(type="str"),
        tracking_uri_secret=dict(type="dict", options=SECRET_REFERENCE, no_log=False),
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
    spec.update(AUTH_ARG_SPEC)
    return spec


def check_mode_options(params):
    """Options of the other mode are a mistake worth stopping for (a URI silently ignored would surprise)."""
    if params["mode"] == "local":
        given = [name for name in JOB_ONLY if params.get(name)]
        if given:
            return "%s only apply to mode=job; in local mode give backend_store_uri and auth_db_uri" % ", ".join(given)
        return None
    given = [name for name in LOCAL_ONLY if params.get(name)]
    if given:
        return ("%s only apply to mode=local; in job mode the URIs come from tracking_uri_secret / auth_uri_secret "
                "and MLflow from image" % ", ".join(given))
    return None


def run_local_mode(module):
    params = module.params
    python = params["mlflow_python"] or sys.executable
    problem = check_python(python)
    if problem:
        raise MigrationFailed(problem)
    action = "plan" if module.check_mode or params["plan_only"] else "run"
    result = run_local(module.ansible.run_command, python, action, params["backend_store_uri"],
                       params["auth_db_uri"], params["connect_timeout"])
    if result["status"] != "ok":
        raise MigrationFailed(result["msg"], result)
    return result


def run_job_mode(module):
    params = module.params
    # Only job mode needs the kubernetes library.
    module.requires("kubernetes")
    client = get_api_client(module=module)
    runner = JobRun(client, K8sService(client, module), lambda api, resource: Waiter(api, resource, job_complete), module)
    namespace = params["namespace"]
    references = [dict(params["tracking_uri_secret"], option="tracking_uri_secret")]
    if params["auth_uri_secret"]:
        references.append(dict(params["auth_uri_secret"], option="auth_uri_secret"))
    elif params["auth_config_secret"]:
        references.append(dict(params["auth_config_secret"], option="auth_config_secret"))
    secrets = runner.read_secrets(namespace, references)
    module.ansible.no_log_values.update(secret for secret in secrets if secret)

    token = new_run_token()
    name = job_name(params["job_name_prefix"], token)
    manifest = build_job_manifest(
        name, namespace, params["image"], token, params["tracking_uri_secret"], params["auth_uri_secret"],
        python_command=params["python_command"], connect_timeout=params["connect_timeout"],
        service_account_name=params["service_account_name"], resources=params["resources"],
        image_pull_policy=params["image_pull_policy"], extra_env=params["env"],
        auth_config_secret=params["auth_config_secret"], action="plan" if params["plan_only"] else "run")
    runner.create(manifest)
    if module.check_mode:
        module.warn("In job mode the databases are only reachable from the cluster: check mode validated the Job "
                    "%s with a server-side dry-run but cannot tell which revisions would run." % name)
        return {"job_name": name, "tracking": None, "auth": None, "pending": None, "notes": []}

    finished, instance, elapsed = runner.wait(name, namespace, params["wait_timeout"], params["wait_sleep"])
    if not finished:
        raise MigrationFailed(
            "Job %s/%s did not finish within %s s; it is left running, because interrupting a migration is worse than "
            "waiting. Follow it with `kubectl -n %s logs -f job/%s`, delete it when it is done, then rerun this task "
            "(check mode) to read the revisions." % (namespace, name, elapsed, namespace, name),
            {"job_name": name, "job_kept": True})
    state = job_state(instance)
    result = job_outcome(state, runner.pod_log(namespace, token), secrets)
    result["job_name"] = name
    result["job_kept"] = (state != "succeeded" or result["status"] != "ok") and params["keep_failed_job"]
    if not result["job_kept"]:
        runner.delete(name, namespace)
    if result["status"] != "ok":
        hint = " The Job is kept: `kubectl -n %s describe job/%s`." % (namespace, name) if result["job_kept"] else ""
        raise MigrationFailed(result["msg"] + hint, result)
    return result


def would_change(result, check_mode, plan_only):
    """`changed` as a real run reports it: in check mode, whether a real run would migrate (revisions pending);
    a plan_only run never changes anything; job mode in check mode cannot read the revisions (it warns) and
    predicts no change."""
    if plan_only:
        return False
    if check_mode:
        return any((result.get("pending") or {}).values())
    return bool(result.get("changed"))


def diff_of(result, check_mode):
    before, after = {}, {}
    for chain in ("tracking", "auth"):
        report = result.get(chain)
        if report:
            before[chain] = report["before"]
            after[chain] = report["head"] if check_mode and (result.get("pending") or {}).get(chain) else report["after"]
    return {"before": before, "after": after}


def main():
    module = MigrateModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("auth_uri_secret", "auth_config_secret")],
        required_if=[("mode", "local", ["backend_store_uri"]),
                     ("mode", "job", ["namespace", "image", "tracking_uri_secret"])],
        check_k8s=False,
        check_pyyaml=False,
    )
    params = module.params
    # The password inside a URI is a secret of its own: mask it wherever it shows up.
    module.ansible.no_log_values.update(uri_secrets(params["backend_store_uri"]) + uri_secrets(params["auth_db_uri"]))
    problem = check_mode_options(params)
    if problem:
        module.fail_json(msg=problem)

    started = time.monotonic()
    try:
        result = run_local_mode(module) if params["mode"] == "local" else run_job_mode(module)
    except MigrationFailed as exc:
        failed = {key: exc.result.get(key) for key in RESULT_KEYS + ("job_name", "job_kept") if key in exc.result}
        changed = any(failed.get(chain) and failed[chain]["before"] != failed[chain]["after"]
                      for chain in ("tracking", "auth"))
        module.fail_json(msg=str(exc), changed=changed, duration=round(time.monotonic() - started, 3), **failed)
    except JobError as exc:
        module.fail_json(msg=str(exc), changed=False, duration=round(time.monotonic() - started, 3))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # kubernetes.core raises CoreException (and the client ApiException) for API problems.
        module.fail_json(msg="mlflow_migrate failed: %s" % exc, exception=traceback.format_exc(), changed=False,
                         duration=round(time.monotonic() - started, 3))

    for warning in result.get("warnings") or []:
        module.warn(warning)
    output = {key: result.get(key) for key in RESULT_KEYS + ("job_name", "job_kept") if key in result}
    output["changed"] = would_change(result, module.check_mode, params["plan_only"])
    output["duration"] = round(time.monotonic() - started, 3)
    if module._diff:  # pylint: disable=protected-access
        output["diff"] = diff_of(result, module.check_mode)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
