# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease_lock module's work: read the Lease, apply the plan of `lease.py` through the collection's client.

Creation and take-over are conditional (create, or replace at the resourceVersion read), so of two runs racing
for the lock one gets a conflict. In check mode the client sends the same writes as server-side dry runs.
"""

from __future__ import annotations

import datetime

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import api_error_message
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.lease import (
    LockHeld, lease_info, lease_spec, plan_acquire, plan_release)

try:
    from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError, NotFoundError
except ImportError:  # the module's client reports the missing library first
    pass

CHANGING = ("create", "renew", "take_over", "delete")


def lease_body(params: dict, spec: dict) -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": params["name"], "namespace": params["namespace"],
                         "labels": {"app.kubernetes.io/managed-by": "mlops.mlflow"}},
            "spec": spec}


def acquire(module, resource, lease, now):
    params = module.params
    try:
        action = plan_acquire(lease, params["holder"], now, params["force"])
    except LockHeld as held:
        raise CollectionError(
            "Another run holds the lock %s/%s: holder %r, renewed %s, expires %s. Wait for it to finish, or, if that "
            "run is dead, rerun with lock force (force=true) to take the lock over."
            % (params["namespace"], params["name"], held.holder, held.renewed, held.expires),
            outcome="refused", lease=lease_info(lease, now)) from None
    spec = lease_spec(params["holder"], now, params["duration_seconds"], (lease or {}).get("spec") or {})
    body = lease_body(params, spec)
    if action == "create":
        module.client.create(resource, body, namespace=params["namespace"])
    else:
        # Conditional on the version read: a concurrent taker makes this fail with a conflict.
        body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        module.client.replace(resource, body, name=params["name"], namespace=params["namespace"])
    return action, {"spec": spec}


def release(module, resource, lease):
    params = module.params
    action = plan_release(lease, params["holder"], params["force"])
    warnings = []
    if action == "not_ours":
        warnings.append("The lock %s/%s is held by %r, not by %r; it was left in place."
                        % (params["namespace"], params["name"], lease["spec"].get("holderIdentity"), params["holder"]))
    if action == "delete":
        module.client.delete(resource, name=params["name"], namespace=params["namespace"])
    return action, (None if action == "delete" else lease), warnings


def run_lock(module) -> dict:
    params = module.params
    where = "%s/%s" % (params["namespace"], params["name"])
    resource = module.resource("Lease", "coordination.k8s.io/v1")
    now = datetime.datetime.now(datetime.timezone.utc)
    warnings = []
    try:
        try:
            lease = module.client.get(resource, name=params["name"], namespace=params["namespace"]).to_dict()
        except NotFoundError:
            lease = None
        if params["state"] == "present":
            action, after = acquire(module, resource, lease, now)
        else:
            action, after, warnings = release(module, resource, lease)
    except ConflictError:
        raise CollectionError("Another run took the lock %s at the same moment; this run stops. Rerun when that run "
                              "has finished." % where, outcome="refused") from None
    except DynamicApiError as exc:
        raise CollectionError("%s. Check the namespace exists and the account may manage leases.coordination.k8s.io."
                              % api_error_message(exc, "read or write the lock Lease %s" % where)) from None
    return dict(changed=action in CHANGING, outcome=action, lease=lease_info(after, now), warnings=warnings)
