#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: resource_wait
short_description: Wait for an MLflow Deployment, a CNPG Cluster or Backup, or an OpenShift Build, and show the progress
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Waits until a C(Deployment) is rolled out (as C(kubectl rollout status) sees it - the latest generation observed, every
    replica updated and available, no old replica left), a CNPG C(Cluster) is C(Ready) (and, with
    O(require_archiving), archiving WAL), a CNPG C(Backup) has a final phase (C(completed) or C(failed)), or an
    OpenShift C(Build) (the MLflow image's) has a final phase (C(Complete), C(Failed), C(Error) or C(Cancelled)).
  - The wait runs inside one task, by a watch (the object is listed by name, then watched from that list's
    C(resourceVersion)), not as a task retried with C(until) (each retry starts a new module process); a change is
    seen as soon as the API server sends it, not at the next poll.
  - "Every O(progress_interval) seconds the task prints what it is waiting for, what it sees and for how long
    (C(resource_wait: [team-a] Deployment mlflow/mlflow: 1 of 2 replicas updated, 1 available, 3 in all - 30 s of
    at most 900 s), the inventory host first), in the play output and in the AWX job output."
  - A timeout fails the task with the last state seen; a missing object is waited for, as it may not exist yet.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - ansible.builtin.action_common_attributes
attributes:
  action:
    description: Whether the module has an action plugin, which runs on the controller.
    support: full
    details: The action plugin prints the progress between slices of the wait.
  check_mode:
    support: full
    details: Only reads; it waits in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  kind:
    description: What to wait for.
    type: str
    required: true
    choices: [Deployment, Cluster, Backup, Build]
  name:
    description: Name of the object.
    type: str
    required: true
  namespace:
    description: Its namespace.
    type: str
    required: true
  require_archiving:
    description:
      - For a C(Cluster), also wait for CNPG's C(ContinuousArchiving) condition, so that WAL reaches the object
        store before the flow goes on.
    type: bool
    default: false
  wait_timeout:
    description: How long to wait at most, in seconds, before the task fails.
    type: int
    default: 900
  wait_sleep:
    description:
      - Seconds before the object is listed and watched again when a watch ended in an error (C(410 Gone) after a
        compaction of the API server's history, a dropped connection). A watch the API server ends normally is
        started again at once.
    type: int
    default: 2
  progress_interval:
    description:
      - Seconds between two progress lines. Nothing is printed when the wait ends sooner.
    type: int
    default: 30
  restore_bytes:
    description:
      - For a C(Cluster) that CNPG bootstraps by C(recovery), the size of the base backup being restored (the
        catalog's C(cluster_size), which M(mlops.mlflow.pg_recover_prepare) returns with the backup it chose).
      - With it each progress line also says how much CNPG's full-recovery Job has restored against that size, with
        an estimate of the time left at the rate so far (C(base backup restore - 640 MB of 1165 MB (54%), about 8 s
        left)), then that WAL is replayed; the amount is a C(du) of the PGDATA in the Job's C(full-recovery)
        container, over pods/exec (C(list) on pods and C(create) on pods/exec; without them the line says less).
      - C(0) shows no restore progress.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Wait for every MLflow replica to run the new version
  mlops.mlflow.resource_wait:
    kind: Deployment
    name: mlflow
    namespace: mlflow
    wait_timeout: 900

- name: Wait for the PostgreSQL cluster to be ready and archiving WAL
  mlops.mlflow.resource_wait:
    kind: Cluster
    name: pg-cluster-v1
    namespace: mlflow
    require_archiving: true

- name: Wait for an on-demand backup to finish, then check it completed
  mlops.mlflow.resource_wait:
    kind: Backup
    name: pg-cluster-v1-pre-upgrade
    namespace: mlflow
    wait_timeout: 1800
  register: backup

- name: Stop unless it completed
  ansible.builtin.assert:
    that: backup.resource.status.phase == 'completed'

- name: Wait for the build of the MLflow image (a progress line every minute)
  mlops.mlflow.resource_wait:
    kind: Build
    name: mlflow-v3-5-0-1
    namespace: mlflow
    progress_interval: 60
  register: build
"""

RETURN = r"""
ready:
  description: Whether the object reached what was waited for (always true on success).
  returned: always
  type: bool
  sample: true
resource:
  description: The object as last read (empty when it does not exist).
  returned: always
  type: dict
  sample: {"kind": "Backup", "status": {"phase": "completed", "backupId": "20261203T101500"}}
summary:
  description: What was last seen, in words.
  returned: always
  type: str
  sample: "Cluster mlflow/pg-cluster-v1: phase Cluster in healthy state, 1 of 1 instances ready"
elapsed:
  description: Seconds waited.
  returned: always
  type: int
  sample: 42
timed_out:
  description: Set when the wait ended at O(wait_timeout).
  returned: failure
  type: bool
  sample: true
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.resource_wait import WAITS, wait_for

ARGUMENT_SPEC = dict(
    kind=dict(type="str", required=True, choices=list(WAITS)),
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    require_archiving=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=900),
    wait_sleep=dict(type="int", default=2),
    progress_interval=dict(type="int", default=30),
    restore_bytes=dict(type="int", default=0),
)


def main():
    CollectionModule(ARGUMENT_SPEC, cluster=True, supports_check_mode=True).execute(wait_for)


if __name__ == "__main__":
    main()
