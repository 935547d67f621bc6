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
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the Lease and reports what would happen (including a refusal); writes nothing.
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

import copy
import datetime

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.mlops.mlflow.plugins.module_utils.lease import (
    LockHeld, lease_info, lease_spec, plan_acquire, plan_release)

try:
    from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, NotFoundError
except ImportError:  # reported by AnsibleK8SModule's requirement check
    pass


def argument_spec():
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(
        name=dict(type="str", default="mlops-mlflow-lock"),
        namespace=dict(type="str", required=True),
        holder=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        duration_seconds=dict(type="int", default=3600),
        force=dict(type="bool", default=False),
    )
    return spec


def read_lease(resource, name, namespace):
    try:
        return resource.get(name=name, namespace=namespace).to_dict()
    except NotFoundError:
        return None


def acquire(module, resource, lease, now):
    params = module.params
    try:
        action = plan_acquire(lease, params["holder"], now, params["force"])
    except LockHeld as held:
        module.fail_json(
            msg=(f"Another run holds the lock {params['namespace']}/{params['name']}: holder {held.holder!r}, "
                 f"renewed {held.renewed}, expires {held.expires}. Wait for it to finish, or, if that run is "
                 "dead, rerun with lock force (force=true) to take the lock over."),
            outcome="refused", lease=lease_info(lease, now))
    previous = (lease or {}).get("spec") or {}
    spec = lease_spec(params["holder"], now, params["duration_seconds"], previous)
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": params["name"], "namespace": params["namespace"],
                         "labels": {"app.kubernetes.io/managed-by": "mlops.mlflow"}},
            "spec": spec}
    if not module.check_mode:
        if action == "create":
            resource.create(body=body, namespace=params["namespace"])
        else:
            # Conditional on the version we read: a concurrent taker makes this fail with a conflict.
            body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
            resource.replace(body=body, name=params["name"], namespace=params["namespace"])
    return action, {"spec": spec}


def release(module, resource, lease, now):
    params = module.params
    action = plan_release(lease, params["holder"], params["force"])
    if action == "not_ours":
        info = lease_info(lease, now)
        module.warn(f"The lock {params['namespace']}/{params['name']} is held by {info['holder']!r}, not by "
                    f"{params['holder']!r}; it was left in place.")
    if action == "delete" and not module.check_mode:
        resource.delete(name=params["name"], namespace=params["namespace"])
    return action, (None if action == "delete" else lease)


def run(module, client):
    params = module.params
    resource = client.resource("Lease", "coordination.k8s.io/v1")
    now = datetime.datetime.now(datetime.timezone.utc)
    lease = read_lease(resource, params["name"], params["namespace"])
    if params["state"] == "present":
        action, after = acquire(module, resource, lease, now)
    else:
        action, after = release(module, resource, lease, now)
    changed = action in ("create", "renew", "take_over", "delete")
    module.exit_json(changed=changed, outcome=action, lease=lease_info(after, now))


def main():
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argument_spec(), supports_check_mode=True)
    client = get_api_client(module=module)
    try:
        run(module, client)
    except ConflictError:
        module.fail_json(msg=(f"Another run took the lock {module.params['namespace']}/{module.params['name']} "
                              "at the same moment; this run stops. Rerun when that run has finished."),
                         outcome="refused")
    except DynamicApiError as exc:
        module.fail_json(msg=f"Could not read or write the lock Lease {module.params['namespace']}/"
                             f"{module.params['name']}: {exc.status} {exc.reason}. Check the namespace exists "
                             "and the account may manage leases.coordination.k8s.io.")


if __name__ == "__main__":
    main()
