# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the flows wait for, and how far along it is: the work of the resource_wait module.

One module call waits in-process by a watch (a list of the object by name, then a watch from that list's
resourceVersion, as client-go's informers do), instead of a task retried every few seconds, where each retry starts a
Python process that imports the Kubernetes client again. A change is seen when the API server sends it, not at the
next poll: inside an outage (a recovery's restore, MLflow's start) a poll every 2 s cost a second per wait on
average. Each kind has a predicate (done or not) and a summary a person can read in the progress lines and in the
error of a timeout.
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.pod_exec import core_api, run
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import parse_timestamp

try:
    from kubernetes.client.rest import ApiException
    from urllib3.exceptions import HTTPError as TransportError
except ImportError:  # the module reports the missing library when it makes the client
    ApiException = TransportError = None

GONE = 410  # the watch's resourceVersion is too old (compacted): list again
# CNPG restores a base backup in the Job <instance>-full-recovery, whose container of that name mounts the new
# instance's PGDATA (cloudnative-pg pkg/specs/jobs.go, CreatePrimaryJobViaRecovery).
RESTORE_PODS = "cnpg.io/cluster=%s,cnpg.io/jobRole=full-recovery"
RESTORE_CONTAINER = "full-recovery"
PGDATA = "/var/lib/postgresql/data/pgdata"
MIN_FOR_RATE = 1048576  # bytes restored before the time left is estimated (and 1% of the backup)


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


def finished_in(final: tuple) -> object:
    """The predicate of an object that is finished once its status.phase is one of `final`; whether it succeeded
    is for the caller to check."""
    def finished(obj: dict, _options: dict) -> bool:
        return bool(obj) and _get(obj, "status", "phase", default="") in final
    return finished


# CNPG's final Backup phases.
BACKUP_DONE = ("completed", "failed")
backup_finished = finished_in(BACKUP_DONE)


def backup_summary(obj: dict, _options: dict) -> str:
    status = obj.get("status") or {}
    text = "phase %s" % (status.get("phase") or "not started")
    if status.get("startedAt"):
        text += " since %s" % status["startedAt"]
    return text


# OpenShift's final build phases (openshift/api build/v1 BuildPhase): the build pushed, or never will.
BUILD_DONE = ("Complete", "Failed", "Error", "Cancelled")
build_finished = finished_in(BUILD_DONE)


def build_summary(obj: dict, _options: dict) -> str:
    status = obj.get("status") or {}
    text = "phase %s" % (status.get("phase") or "New")
    if status.get("startTimestamp"):
        text += " since %s" % status["startTimestamp"]
    if status.get("reason"):
        text += " (%s)" % status["reason"]
    return text


# kind: (apiVersion, done, summary, what done means in words)
WAITS = {
    "Deployment": ("apps/v1", deployment_rolled_out, deployment_summary, "every replica updated and available"),
    "Cluster": ("postgresql.cnpg.io/v1", cluster_ready, cluster_summary, "Ready"),
    "Backup": ("postgresql.cnpg.io/v1", backup_finished, backup_summary, "a final phase (completed or failed)"),
    "Build": ("build.openshift.io/v1", build_finished, build_summary,
              "a final phase (Complete, Failed, Error or Cancelled)"),
}


def state(kind: str, obj: dict, options: dict) -> str:
    """`1 of 2 replicas updated, ...`, or that the object does not exist (yet)."""
    return WAITS[kind][2](obj, options) if obj else "not found"


def megabytes(size: int) -> str:
    return "%d MB" % round(size / 1048576.0)


def restore_summary(phase: str, restored: int | None, expected: int, running_for: float | None) -> str:
    """What a person reads of a restore: the amount restored against the backup's size, and the time left at the
    rate so far; or that the base backup is restored and WAL is replayed; '' when no restore is seen."""
    if phase == "Succeeded":
        return "base backup restored, replaying WAL"
    if phase != "Running":
        return ""
    if restored is None:
        return "restoring the base backup (%s when it was taken)" % megabytes(expected)
    share = min(99, 100 * restored // max(expected, 1))
    text = "base backup restore: %s of %s (%d%%)" % (megabytes(restored), megabytes(expected), share)
    # A rate needs something restored: an empty PGDATA (its folder alone) at the start would promise hours.
    if running_for and max(MIN_FOR_RATE, expected // 100) <= restored < expected:
        text += ", about %d s left" % round((expected - restored) * running_for / restored)
    return text


def restore_progress(module, name: str, namespace: str, expected: int) -> str:
    """How far CNPG's full-recovery Job is: `du` of the PGDATA its container writes (pods/exec), against `expected`
    (the catalog's cluster_size of the base backup). Progress is worth a line, never a failed recovery: what cannot
    be read (no such pod yet, a Role without pods/exec, a du that fails) gives a shorter line or none."""
    try:
        pods = module.client.get(module.resource("Pod", "v1"), namespace=namespace,
                                 label_selector=RESTORE_PODS % name).to_dict().get("items") or []
    except Exception:  # pylint: disable=broad-exception-caught
        return ""
    phases = {(pod.get("status") or {}).get("phase") for pod in pods}
    running = [pod for pod in pods if (pod.get("status") or {}).get("phase") == "Running"]
    if not running:
        return restore_summary("Succeeded" if "Succeeded" in phases else "", None, expected, None)
    pod = running[0]
    restored = None
    try:
        restored = int(run(core_api(module), namespace, pod["metadata"]["name"], RESTORE_CONTAINER,
                           ["du", "-sb", PGDATA]).split()[0])
    except Exception:  # pylint: disable=broad-exception-caught
        pass
    started = (pod.get("status") or {}).get("startTime")
    running_for = (datetime.datetime.now(datetime.timezone.utc) - parse_timestamp(started)).total_seconds() \
        if started else None
    return restore_summary("Running", restored, expected, running_for)


def watch_until(client, resource, name: str, namespace: str, done, timeout: int, retry_sleep: int) -> tuple[bool, dict]:
    """(whether `done(object)` became true within `timeout` seconds, the object as last seen, {} when absent).

    List the object by name (its state and the list's resourceVersion), then watch from that resourceVersion, so no
    change between the two is missed. A watch that ends early - the API server's own timeout, a 410 Gone after a
    compaction, a dropped connection - is followed by a new list and watch. An API server that does not answer
    (a refused or reset connection) is tried again every `retry_sleep` seconds until the timeout, as kubernetes.core's
    Waiter does: a short outage of the API inside a wait is ridden through."""
    deadline = time.monotonic() + timeout
    selector = "metadata.name=%s" % name
    obj: dict = {}
    while True:
        try:
            listed = client.get(resource, namespace=namespace, field_selector=selector).to_dict()
            obj = (listed.get("items") or [{}])[0]
            if done(obj):
                return True, obj
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False, obj
            for event in client.client.watch(resource, namespace=namespace, field_selector=selector,
                                             resource_version=listed["metadata"]["resourceVersion"],
                                             timeout=max(1, int(remaining))):
                obj = {} if event["type"] == "DELETED" else event["raw_object"]
                if done(obj):
                    return True, obj
        except ApiException as exc:
            if exc.status != GONE:
                raise
            _pause(retry_sleep, deadline)
        except TransportError as exc:
            if time.monotonic() >= deadline:
                raise CollectionError("The Kubernetes API did not answer while waiting for %s %s/%s: %s" % (
                    resource.kind, namespace, name, exc), timed_out=True, resource=obj) from None
            _pause(retry_sleep, deadline)
        if time.monotonic() >= deadline:
            return False, obj


def _pause(seconds: float, deadline: float) -> None:
    time.sleep(max(0.0, min(seconds, deadline - time.monotonic())))


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
    started = time.monotonic()
    ready, obj = watch_until(module.client, resource, name, namespace, lambda found: done(found, options),
                             params["wait_timeout"], params["wait_sleep"])
    elapsed = int(time.monotonic() - started)
    seen = state(kind, obj or {}, options)
    if not ready and kind == "Cluster" and params["restore_bytes"]:
        progress = restore_progress(module, name, namespace, params["restore_bytes"])
        seen += "; %s" % progress if progress else ""
    result = {"ready": ready, "resource": obj or {}, "elapsed": elapsed,
              "summary": "%s %s/%s: %s" % (kind, namespace, name, seen)}
    if not ready:
        wanted += " and archiving WAL" if options["require_archiving"] else ""
        raise CollectionError("%s %s/%s did not reach %s in time. Last seen: %s." % (
            kind, namespace, name, wanted, seen), timed_out=True, **result)
    return dict(result, changed=False)
