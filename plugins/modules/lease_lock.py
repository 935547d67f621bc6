#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lease_lock
short_description: Hold a namespace-wide lock (a Kubernetes Lease) so two playbook runs never interleave
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Acquires or releases a C(coordination.k8s.io/v1) Lease that the deploy, upgrade, recover and drill roles take
    before they change anything, so a second run (from a laptop, AWX or a schedule) stops instead of interleaving.
  - Acquiring creates the Lease, renews it when this O(holder) already holds it, and takes it over when the
    previous holder's lease expired (a run that was killed). A live lease of another holder fails the task with
    who holds it and until when; O(force=true) is the documented override.
  - Creation and take-over are conditional writes (create, or replace at the read resourceVersion), so two runs
    racing for the same lock cannot both win.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the Lease and reports what would happen (including a refusal); its writes are server-side dry runs.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  name:
    description: Name of the Lease.
    type: str
    default: mlops-mlflow-lock
  namespace:
    description: Namespace of the Lease (the MLflow namespace).
    type: str
    required: true
  holder:
    description:
      - Identity of this run, stored as the Lease's C(holderIdentity). Use something a person recognises, for
        example the AWX job id or C(user@host) with a start time.
    type: str
    required: true
  state:
    description: C(present) acquires (or renews) the lock, C(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  duration_seconds:
    description:
      - How long the lock stays valid without renewal. A run that dies leaves a lock that others may take over
        after this time. Choose it longer than the longest step of the flow (migrations, restores).
    type: int
    default: 3600
  force:
    description:
      - Take over (or release) a lock held by another holder even though it has not expired. Only for a lock
        left by a run that is known to be dead.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Take the run lock before changing the MLflow namespace
  mlops.mlflow.lease_lock:
    namespace: mlflow
    holder: "awx-job-{{ awx_job_id | default('local') }}"
    duration_seconds: 3600

- name: Release it at the end (also in an always block)
  mlops.mlflow.lease_lock:
    namespace: mlflow
    holder: "awx-job-{{ awx_job_id | default('local') }}"
    state: absent

- name: Override a stale lock left by a killed run
  mlops.mlflow.lease_lock:
    namespace: mlflow
    holder: "{{ lookup('ansible.builtin.env', 'USER') }}-manual"
    force: true
"""

RETURN = r"""
outcome:
  description: What was done (or would be done in check mode).
  returned: always
  type: str
  sample: create
  choices: [create, renew, take_over, delete, absent, not_ours, refused]
lease:
  description: Holder and times of the lock after the task.
  returned: always
  type: dict
  contains:
    holder:
      description: The C(holderIdentity).
      type: str
      sample: awx-job-42
    renewed:
      description: When the lock was last renewed (UTC).
      type: str
      sample: "2026-11-30T12:00:00.000000Z"
    expires:
      description: When the lock expires unless renewed (UTC).
      type: str
      sample: "2026-11-30T13:00:00.000000Z"
    expired:
      description: Whether it has expired.
      type: bool
  sample: {"holder": "awx-job-42", "renewed": "2026-11-30T12:00:00.000000Z", "expires": "2026-11-30T13:00:00.000000Z", "expired": false}
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.lease_lock import run_lock

ARGUMENT_SPEC = dict(
    name=dict(type="str", default="mlops-mlflow-lock"),
    namespace=dict(type="str", required=True),
    holder=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    duration_seconds=dict(type="int", default=3600),
    force=dict(type="bool", default=False),
)


def main():
    CollectionModule(ARGUMENT_SPEC, cluster=True, supports_check_mode=True).execute(run_lock)


if __name__ == "__main__":
    main()
