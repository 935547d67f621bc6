"""ReplicaSets: keep `spec.replicas` Pods from the template, report how many are ready.

A Pod the API server refuses (e.g. its ServiceAccount does not exist) is what pkg/controller/replicaset/
replica_set.go makes of it: a `FailedCreate` event "Error creating: <error>", the condition `ReplicaFailure` True
with reason `FailedCreate` and the error as message (calculateStatus), and another try later; the condition goes
once a sync creates what it must."""

from __future__ import annotations

import copy

from . import events
from .base import Controller, condition
from .client import ApiError
from .util import owned_by, owner_ref, pod_ready, selector_string, without_zeros, write_status

RETRY_FAILED_CREATE = 2.0  # seconds; the real controller re-queues with a rate-limited back-off


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    kind = ("apps/v1", "ReplicaSet")
    owns = (("v1", "Pod"),)

    def reconcile(self, obj, namespace, name):
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        spec = obj.get("spec") or {}
        uid = obj["metadata"]["uid"]
        pods = [p for p in self.client.list("v1", "Pod", namespace, selector_string(spec.get("selector")))
                if owned_by(p, uid) and not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        wanted = spec.get("replicas", 1)
        failure = None
        if len(pods) < wanted:
            for _ in range(wanted - len(pods)):
                try:
                    pods.append(self._create_pod(obj))
                except ApiError as error:  # slowStartBatch stops at the first error
                    failure = error.message
                    events.record(self.client, obj, "Warning", "FailedCreate", f"Error creating: {failure}")
                    break
        elif len(pods) > wanted:
            # Not-ready pods go first, then the newest (as the ReplicaSet controller ranks them).
            pods.sort(key=lambda p: (pod_ready(p), p["metadata"].get("creationTimestamp", "")), reverse=False)
            doomed, pods = pods[:len(pods) - wanted], pods[len(pods) - wanted:]
            for pod in doomed:
                self.client.delete("v1", "Pod", namespace, pod["metadata"]["name"])
        ready = sum(1 for p in pods if pod_ready(p))
        status = without_zeros({"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                                "availableReplicas": ready,
                                "observedGeneration": obj["metadata"].get("generation", 1)},
                               ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
        conditions = _failure_conditions((obj.get("status") or {}).get("conditions") or [], failure)
        if conditions:
            status["conditions"] = conditions
        write_status(self.client, obj, status)
        return RETRY_FAILED_CREATE if failure else None

    def _create_pod(self, replica_set):  # named by the API server from `<rs>-`, as GetPodFromTemplate asks
        template = copy.deepcopy((replica_set.get("spec") or {}).get("template") or {})
        meta = template.get("metadata") or {}
        name = replica_set["metadata"]["name"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"generateName": f"{name}-", "namespace": replica_set["metadata"]["namespace"],
                            "labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {},
                            "ownerReferences": [owner_ref(replica_set)]},
               "spec": template.get("spec") or {}}
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        return self.client.create(pod)


def _failure_conditions(previous: list[dict], failure: str | None) -> list[dict]:
    """The ReplicaSet's conditions after a sync: `ReplicaFailure` set when creating failed (kept as it was while
    it goes on failing), removed after a sync without error (replica_set_utils.go, calculateStatus)."""
    others = [c for c in previous if c.get("type") != "ReplicaFailure"]
    earlier = next((c for c in previous if c.get("type") == "ReplicaFailure"), None)
    if failure is None:
        return others
    return others + [earlier or condition("ReplicaFailure", True, "FailedCreate", failure)]
