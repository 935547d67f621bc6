"""What the API server does around a write of particular kinds, beyond defaulting (defaults.py) and validation
(semantics.py): the parts of Kubernetes' per-kind registry strategies and REST storage our flows can observe.

- Service: a cluster IP from 10.96.0.0/16 when created, kept when an update leaves it out, released when deleted;
- Job: the generated selector and the `controller-uid`/`job-name` labels of its pod template (unless
  `manualSelector`);
- Namespace: created `Active`; deleting it deletes everything in it (at once: there is no Terminating phase);
- Deployment, ReplicaSet, StatefulSet: `/scale` reports `spec.selector` as a label selector string;
- CustomResourceDefinition: Established at once; stored, it serves its kinds; deleted, its custom resources go
  first and the kinds stop being served (crds.py);
- Pod: graceful deletion (`grace_period`), as the pod registry strategy's CheckGracefulDelete.

operations.py calls these hooks at the same points for every kind; a kind without a rule here is left alone.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from . import crds, errors
from .resources import Registry, ResourceType
from .store import Store

_SERVICE = ("", "Service")
_JOB = ("batch", "Job")
_NAMESPACE = ("", "Namespace")
_STATEFUL_SET = ("apps", "StatefulSet")
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
_POD = ("", "Pod")
_SELECTOR_SCALED = {("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet")}
_SERVICE_NETWORK = ipaddress.ip_network("10.96.0.0/16")


def _kind(resource: ResourceType) -> tuple[str, str]:
    return resource.group, resource.kind


class Strategies:
    """The per-kind hooks of one API (its store holds the Services whose cluster IPs are taken)."""

    def __init__(self, store: Store, registry: Registry):
        self._store = store
        self._registry = registry
        self._cluster_ips: set[str] | None = None  # read from the store at the first allocation

    def prepare_create(self, resource: ResourceType, obj: dict[str, Any]) -> None:
        """Fill in what the server assigns to a new object (its uid is already set)."""
        kind = _kind(resource)
        if kind == _SERVICE:
            self._assign_cluster_ip(resource, obj)
        elif kind == _JOB:
            _generate_job_selector(obj)
        elif kind == _NAMESPACE:
            obj["status"] = {"phase": "Active"}
        elif kind == _CRD:
            obj["status"] = crds.status(obj)
        elif kind == _STATEFUL_SET:
            # PrepareForCreate (pkg/registry/apps/statefulset/strategy.go) sets an empty StatefulSetStatus, whose
            # replicas and availableReplicas are not omitempty (staging/src/k8s.io/api/apps/v1/types.go): a new
            # StatefulSet is never served without a status, also before the controller's first status update
            # (kubernetes.core's waiter reads status.updatedReplicas at once).
            obj["status"] = {"replicas": 0, "availableReplicas": 0}

    def prepare_update(self, resource: ResourceType, obj: dict[str, Any], old: dict[str, Any]) -> None:
        """Carry over what the server assigned and an update leaves out."""
        if _kind(resource) == _SERVICE:
            spec, old_spec = obj.setdefault("spec", {}), old.get("spec") or {}
            for allocated in ("clusterIP", "clusterIPs"):
                if not spec.get(allocated) and old_spec.get(allocated):
                    spec[allocated] = old_spec[allocated]
        elif _kind(resource) == _CRD:
            obj["status"] = crds.status(obj, old.get("status"))

    def after_write(self, resource: ResourceType, stored: dict[str, Any]) -> None:
        """After a create or update is stored (never on a dry run)."""
        if _kind(resource) == _CRD:
            crds.serve(self._registry, stored)

    def grace_period(self, resource: ResourceType, obj: dict[str, Any], requested: int | None) -> int:
        """Seconds a deletion waits for (0: at once). Pods only, as kube-apiserver's podStrategy.CheckGracefulDelete:
        the requested period, else `spec.terminationGracePeriodSeconds`; 0 for a pod no node runs (no
        `spec.nodeName`) or one that has finished; a negative period counts as 1."""
        if _kind(resource) != _POD:
            return 0
        spec = obj.get("spec") or {}
        period = requested if requested is not None else spec.get("terminationGracePeriodSeconds", 0)
        if not spec.get("nodeName") or (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        return 1 if period < 0 else period

    def deleted_with(self, resource: ResourceType, obj: dict[str, Any]) -> list[tuple[ResourceType, dict[str, Any]]]:
        """The objects that go before `obj` does (beyond its dependents by ownerReference)."""
        if _kind(resource) == _CRD:
            served = crds.served_kinds(self._registry, obj)
            return [(served, item) for item in self._store.list(served.key)[0]] if served is not None else []
        if _kind(resource) != _NAMESPACE:
            return []
        contents = []
        for key in {t.key for t in self._registry.types if t.namespaced}:
            contained = self._registry.by_key(key)
            contents += [(contained, item) for item in self._store.list(key, obj["metadata"]["name"])[0]]
        return contents

    def after_delete(self, resource: ResourceType, obj: dict[str, Any]) -> None:
        if _kind(resource) == _SERVICE and self._cluster_ips is not None:
            self._cluster_ips.discard((obj.get("spec") or {}).get("clusterIP", ""))
        elif _kind(resource) == _CRD:
            served = crds.served_kinds(self._registry, obj)
            if served is not None:
                self._registry.unserve(served.group, served.plural)

    def scale_selector(self, resource: ResourceType, obj: dict[str, Any]) -> str | None:
        """The `/scale` status selector of the kinds that derive it from `spec.selector` (None for the others)."""
        if _kind(resource) not in _SELECTOR_SCALED:
            return None
        selector = (obj.get("spec") or {}).get("selector") or {}
        return ",".join(f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items())

    def _assign_cluster_ip(self, resource: ResourceType, obj: dict[str, Any]) -> None:
        spec = obj.get("spec") or {}
        if spec.get("type", "ClusterIP") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            spec["clusterIP"] = self._allocate_ip(resource)
        if spec["clusterIP"] != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])

    def _allocate_ip(self, resource: ResourceType) -> str:
        if self._cluster_ips is None:
            services, _ = self._store.list(resource.key)
            self._cluster_ips = {(service.get("spec") or {}).get("clusterIP", "") for service in services}
        for offset in range(10, _SERVICE_NETWORK.num_addresses - 1):
            candidate = str(_SERVICE_NETWORK[offset])
            if candidate not in self._cluster_ips:
                self._cluster_ips.add(candidate)
                return candidate
        raise errors.ApiError(500, "InternalError", f"no cluster IP left in {_SERVICE_NETWORK}")


def _generate_job_selector(obj: dict[str, Any]) -> None:
    spec = obj.get("spec") or {}
    if spec.get("manualSelector"):
        return
    uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
    labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                   "controller-uid": uid, "job-name": name})
