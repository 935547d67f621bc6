"""ReplicaSets: keep `spec.replicas` Pods from the template, report how many are ready."""

from __future__ import annotations

import copy

from .base import Controller
from .util import owned_by, owner_ref, pod_ready, selector_string, suffix, without_zeros, write_status


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
        if len(pods) < wanted:
            for _ in range(wanted - len(pods)):
                pods.append(self._create_pod(obj))
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
        write_status(self.client, obj, status)
        return None

    def _create_pod(self, replica_set):
        template = copy.deepcopy((replica_set.get("spec") or {}).get("template") or {})
        meta = template.get("metadata") or {}
        name = replica_set["metadata"]["name"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{name}-{suffix()}", "namespace": replica_set["metadata"]["namespace"],
                            "labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {},
                            "ownerReferences": [owner_ref(replica_set)]},
               "spec": template.get("spec") or {}}
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        return self.client.create(pod)
