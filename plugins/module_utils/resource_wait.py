# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the flows wait for, and how far along it is: the work of the resource_wait module.

One module call waits in-process (kubernetes.core's Waiter: one GET per `sleep` seconds), instead of a task retried
every few seconds, where each retry starts a Python process that imports the Kubernetes client again. Each kind has
a predicate (done or not) and a summary a person can read in the progress lines and in the error of a timeout.
"""

from __future__ import annotations

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.waiter import Waiter
except ImportError:  # the module reports the missing library when it makes the client
    Waiter = None


def _get(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, dict) or obj.get(key) is None:
            return default
        obj = obj[key]
    return obj


def _condition(obj: dict, kind: str) -> dict:
    for condition in _get(obj, "status", "conditions", default=[]) or []:
        if condition.get("type") == kind:
            return condition
    return {}


def _true(obj: dict, kind: str) -> bool:
    return _condition(obj, kind).get("status") == "True"


def deployment_rolled_out(obj: dict, _options: dict) -> bool:
    """`kubectl rollout status`: the controller saw the latest spec, and every replica runs it and is available.

    kubernetes.core's deployment_ready does not look at updatedReplicas, so it is true while the old pods still
    serve the previous version, right after a spec change."""
    if not obj:
        return False
    wanted = _get(obj, "spec", "replicas", default=1)
    status = obj.get("status") or {}
    return (status.get("observedGeneration", 0) >= _get(obj, "metadata", "generation", default=0)
            and status.get("updatedReplicas", 0) == wanted
            and status.get("availableReplicas", 0) == wanted
            and status.get("replicas", 0) == wanted)


def deployment_summary(obj: dict, _options: dict) -> str:
    status = obj.get("status") or {}
    wanted = _get(obj, "spec", "replicas", default=1)
    return "%s of %s replicas updated, %s available, %s in all" % (
        status.get("updatedReplicas", 0), wanted, status.get("availableReplicas", 0), status.get("replicas", 0))


def cluster_ready(obj: dict, options: dict) -> bool:
    """CNPG's Ready condition, and ContinuousArchiving too when the flow needs WAL to reach the object store."""
    if not obj or not _true(obj, "Ready"):
        return False
    return not options.get("require_archiving") or _true(obj, "ContinuousArchiving")


def cluster_summary(obj: dict, options: dict) -> str:
    status = obj.get("status") or {}
    text = "phase %s, %s of %s instances ready" % (
        status.get("phase") or "unknown", status.get("readyInstances", 0), _get(obj, "spec", "instances", default="?"))
    if options.get("require_archiving"):
        archiving = _condition(obj, "ContinuousArchiving")
        text += ", archiving: %s" % (archiving.get("message") or archiving.get("status") or "not reported yet")
    return text


BACKUP_DONE = ("completed", "failed")


def backup_finished(obj: dict, _options: dict) -> bool:
    """A Backup is finished when CNPG gives it a final phase; whether it succeeded is for the caller to check."""
    return bool(obj) and _get(obj, "status", "phase", default="") in BACKUP_DONE


def backup_summary(obj: dict, _options: dict) -> str:
    status = obj.get("status") or {}
    text = "phase %s" % (status.get("phase") or "not started")
    if status.get("startedAt"):
        text += " since %s" % status["startedAt"]
    return text


# kind: (apiVersion, done, summary, what done means in words)
WAITS = {
    "Deployment": ("apps/v1", deployment_rolled_out, deployment_summary, "every replica updated and available"),
    "Cluster": ("postgresql.cnpg.io/v1", cluster_ready, cluster_summary, "Ready"),
    "Backup": ("postgresql.cnpg.io/v1", backup_finished, backup_summary, "a final phase (completed or failed)"),
}


def state(kind: str, obj: dict, options: dict) -> str:
    """`1 of 2 replicas updated, ...`, or that the object does not exist (yet)."""
    return WAITS[kind][2](obj, options) if obj else "not found"


def wait_for(module) -> dict:
    """Wait up to `wait_timeout` seconds for the resource; `ready` says whether it got there.

    A timeout is a failure (`timed_out`) with what was last seen; the action plugin of the same name calls this in
    slices of `progress_interval` seconds and prints that state between them."""
    params = module.params
    kind, name, namespace = params["kind"], params["name"], params["namespace"]
    options = {"require_archiving": params["require_archiving"]}
    if options["require_archiving"] and kind != "Cluster":
        raise CollectionError("require_archiving applies to kind Cluster only, not %s" % kind)
    api_version, done, _summary, wanted = WAITS[kind]
    resource = module.resource(kind, api_version)
    ready, obj, elapsed = Waiter(module.client, resource, lambda instance: done(
        instance.to_dict() if instance else {}, options)).wait(
            timeout=params["wait_timeout"], sleep=params["wait_sleep"], name=name, namespace=namespace)
    seen = state(kind, obj or {}, options)
    result = {"ready": ready, "resource": obj or {}, "elapsed": elapsed,
              "summary": "%s %s/%s: %s" % (kind, namespace, name, seen)}
    if not ready:
        wanted += " and archiving WAL" if options["require_archiving"] else ""
        raise CollectionError("%s %s/%s did not reach %s in time. Last seen: %s." % (
            kind, namespace, name, wanted, seen), timed_out=True, **result)
    return dict(result, changed=False)
