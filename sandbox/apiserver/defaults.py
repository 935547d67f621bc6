"""Defaulting of built-in kinds, as the real API server's registered defaulters do it.

Only the defaults clients can observe in our flows are reproduced (what `kubectl get -o yaml`, server-side apply
and `kubectl rollout status` see); CRD schema defaults are applied by the conformer.
"""

from __future__ import annotations

import base64
from typing import Any

from . import crds
from .resources import ResourceType

_POD_TEMPLATE_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "Job"}


def apply(resource: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    handler = _BY_KIND.get((resource.group, resource.kind))
    if handler is not None:
        handler(obj)
    return obj


def _secret(obj: dict[str, Any]) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _namespace(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def _service(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    for port in spec.get("ports", []):
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])


def _container(container: dict[str, Any]) -> None:
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports", []):
        port.setdefault("protocol", "TCP")
    for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = container.get(probe_name)
        if probe is not None:
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            if "httpGet" in probe:
                probe["httpGet"].setdefault("scheme", "HTTP")
    for env in container.get("env", []):
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if field_ref is not None:
            field_ref.setdefault("apiVersion", "v1")


def _pod_spec(spec: dict[str, Any], restart_policy: str | None = "Always") -> None:
    if restart_policy:
        spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for container in spec.get("initContainers", []) + spec.get("containers", []):
        _container(container)
    for volume in spec.get("volumes", []):
        for source in ("secret", "configMap"):
            if source in volume:
                volume[source].setdefault("defaultMode", 420)


def _pod(obj: dict[str, Any]) -> None:
    _pod_spec(obj.setdefault("spec", {}))


def _deployment(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    _pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))


def _replicated(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))


def _stateful_set(obj: dict[str, Any]) -> None:
    """SetDefaults_StatefulSet (pkg/apis/apps/v1/defaults.go; StatefulSetAutoDeletePVC is GA in 1.32,
    MaxUnavailableStatefulSet still off in 1.33). kubernetes.core's `wait` reads `spec.updateStrategy.type`."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
        strategy["rollingUpdate"].setdefault("partition", 0)
    retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    _replicated(obj)
    spec.setdefault("revisionHistoryLimit", 10)
    # Its zeroed status on create is the registry's (strategies.py), after the create dropped what the body had.


def _daemon_set(obj: dict[str, Any]) -> None:
    """SetDefaults_DaemonSet (pkg/apis/apps/v1/defaults.go)."""
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))


def _job(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template_spec = spec.setdefault("template", {}).setdefault("spec", {})
    _pod_spec(template_spec, restart_policy=None)  # a Job must choose OnFailure or Never itself


def _route(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    to = spec.get("to")
    if isinstance(to, dict):
        to.setdefault("weight", 100)
    spec.setdefault("wildcardPolicy", "None")
    if not spec.get("host"):
        meta = obj.get("metadata", {})
        spec["host"] = f"{meta.get('name')}-{meta.get('namespace', 'default')}.apps.sandbox.local"


_BY_KIND = {
    ("", "Secret"): _secret,
    ("", "Namespace"): _namespace,
    ("", "Service"): _service,
    ("", "Pod"): _pod,
    ("apps", "Deployment"): _deployment,
    ("apps", "ReplicaSet"): _replicated,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "DaemonSet"): _daemon_set,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crds.defaults,
    ("batch", "Job"): _job,
    ("route.openshift.io", "Route"): _route,
}
