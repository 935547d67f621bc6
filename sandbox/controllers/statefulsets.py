"""StatefulSets: pods `<name>-0` ... `<name>-N-1` from the template, as the StatefulSet controller keeps them
(pkg/controller/statefulset/stateful_set_control.go), and the status `kubectl rollout status`, kubernetes.core's
`wait` and Helm's readiness check read.

- OrderedReady (the default): ordinal N+1 is created only once N is Running and Ready; scale-down removes the
  highest ordinal first, one at a time. Parallel: all at once.
- RollingUpdate: once every pod is ready, the highest ordinal (at or above `partition`) whose
  `controller-revision-hash` is not the template's is deleted and comes back from the new template. OnDelete:
  pods change only when deleted.
- Status: replicas, ready/available/current/updated replicas, `currentRevision`/`updateRevision`
  (`<name>-<template hash>`; the ControllerRevision objects themselves are not served), observedGeneration.
"""

from __future__ import annotations

from .base import Controller
from .client import ApiError
from .deployments import template_hash
from .util import owned_by, pod_from_template, pod_ready, selector_string, write_status

REVISION_LABEL = "controller-revision-hash"


def revision_of(obj: dict) -> str:
    return f"{obj['metadata']['name']}-{template_hash((obj.get('spec') or {}).get('template') or {})}"


def _ordinal(set_name: str, pod: dict) -> int | None:
    prefix, _, number = pod["metadata"]["name"].rpartition("-")
    return int(number) if prefix == set_name and number.isdigit() else None


class StatefulSetController(Controller):
    name = "statefulset-controller"
    kind = ("apps/v1", "StatefulSet")
    owns = (("v1", "Pod"),)

    def reconcile(self, obj, namespace, name):  # pylint: disable=too-many-branches
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        spec = obj.get("spec") or {}
        replicas = spec.get("replicas", 1)
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        revision = revision_of(obj)
        pods = {}
        for pod in self.client.list("v1", "Pod", namespace, selector_string(spec.get("selector"))):
            ordinal = _ordinal(name, pod)
            if ordinal is not None and owned_by(pod, obj["metadata"]["uid"]):
                pods[ordinal] = pod
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is None:
                self._create(obj, ordinal, revision)
                if ordered:
                    break
            elif ordered and not pod_ready(pod):
                break
        else:
            condemned = sorted((i for i in pods if i >= replicas), reverse=True)
            for ordinal in condemned[:1] if ordered else condemned:
                self._delete(pods[ordinal])
            if not condemned:
                self._roll(spec, pods, replicas, revision)
        return self._status(obj, list(pods.values()), revision)

    def _roll(self, spec, pods, replicas, revision):
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        if not all(pod_ready(pods[i]) for i in range(replicas) if i in pods):
            return
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
        for ordinal in range(replicas - 1, partition - 1, -1):
            pod = pods.get(ordinal)
            if pod is not None and (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                self._delete(pod)
                return

    def _create(self, obj, ordinal, revision):
        name = f"{obj['metadata']['name']}-{ordinal}"
        pod = pod_from_template(obj, name, {REVISION_LABEL: revision, "statefulset.kubernetes.io/pod-name": name,
                                            "apps.kubernetes.io/pod-index": str(ordinal)})
        pod["spec"]["hostname"] = name
        if (obj.get("spec") or {}).get("serviceName"):
            pod["spec"]["subdomain"] = obj["spec"]["serviceName"]
        try:
            self.client.create(pod)
        except ApiError as error:
            if error.code != 409:  # the previous pod of that name is still terminating: next event retries
                raise

    def _delete(self, pod):
        if not pod["metadata"].get("deletionTimestamp"):
            self.client.delete("v1", "Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _status(self, obj, pods, revision):
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if pod_ready(p))
        updated = sum(1 for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision)
        old = obj.get("status") or {}
        current_revision = revision if updated == len(live) else old.get("currentRevision", revision)
        current = sum(1 for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == current_revision)
        status = {"observedGeneration": obj["metadata"].get("generation", 1), "replicas": len(pods),
                  "availableReplicas": ready, "currentRevision": current_revision, "updateRevision": revision,
                  "collisionCount": 0}
        status.update({k: v for k, v in (("readyReplicas", ready), ("currentReplicas", current),
                                         ("updatedReplicas", updated)) if v})
        write_status(self.client, obj, status)
        return None
