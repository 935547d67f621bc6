"""`POST .../pods/<name>/binding`: what kube-scheduler sends to put a pod on a node (pkg/registry/core/pod/storage
BindingREST): `spec.nodeName` set once (a pod already on a node is a 409), condition PodScheduled True. A pod on a
node is deleted gracefully (strategies.grace_period); the sandbox's kubelet binds the pods it runs.
"""

from __future__ import annotations

from typing import Any

from ..timestamps import now
from . import errors
from .operations import Api, Options


def bind(api: Api, namespace: str, name: str, body: Any, _options: Options) -> tuple[int, Any]:
    resource = api.registry.by_kind("v1", "Pod")
    target = (body or {}).get("target") or {} if isinstance(body, dict) else {}
    node = target.get("name")
    if not node:
        raise errors.invalid(resource, name, [{"field": "target.name", "reason": "FieldValueRequired",
                                               "message": "Required value"}])
    with api.store.lock:
        pod = api.get(resource, namespace, name)
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict(resource, name, f"pod {name} is being deleted, cannot be assigned to a host")
        assigned = (pod.get("spec") or {}).get("nodeName")
        if assigned:
            raise errors.conflict(resource, name, f'pod {name} is already assigned to node "{assigned}"')
        pod["spec"]["nodeName"] = node
        status = pod.setdefault("status", {})
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"] + [
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now()}]
        # Written as the binding REST does (no update validation: spec.nodeName is otherwise immutable).
        api.store.put(resource.key, pod, "MODIFIED")
    return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
