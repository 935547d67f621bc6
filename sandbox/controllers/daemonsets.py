"""DaemonSets on the sandbox's one node: one pod `<name>-<5 chars>` from the template, as the DaemonSet controller
runs one per eligible node (pkg/controller/daemon/daemon_controller.go), and the status kubernetes.core's `wait`
and `kubectl rollout status` read.

- RollingUpdate (the default, maxUnavailable 1, maxSurge 0): a pod of an older template is deleted, then
  replaced. OnDelete: replaced only once deleted.
- Status: desired/current/ready/available/updated NumberScheduled, numberMisscheduled 0, observedGeneration.
"""

from __future__ import annotations

from .base import Controller
from .statefulsets import REVISION_LABEL, revision_of
from .util import owned_by, pod_from_template, pod_ready, selector_string, suffix, write_status


class DaemonSetController(Controller):
    name = "daemonset-controller"
    kind = ("apps/v1", "DaemonSet")
    owns = (("v1", "Pod"),)

    def reconcile(self, obj, namespace, name):
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        spec = obj.get("spec") or {}
        revision = revision_of(obj).rpartition("-")[2]
        pods = [p for p in self.client.list("v1", "Pod", namespace, selector_string(spec.get("selector")))
                if owned_by(p, obj["metadata"]["uid"])]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        for pod in list(live):
            if rolling and (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision:
                self.client.delete("v1", "Pod", namespace, pod["metadata"]["name"])
                live.remove(pod)
        if not pods:  # maxSurge 0: the new pod comes once the old one is gone (its deletion re-triggers this)
            pod = pod_from_template(obj, f"{name}-{suffix()}", {
                REVISION_LABEL: revision, "pod-template-generation": str(obj["metadata"].get("generation", 1))})
            live = [self.client.create(pod)]
        ready = sum(1 for p in live if pod_ready(p))
        updated = sum(1 for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision)
        status = {"desiredNumberScheduled": 1, "currentNumberScheduled": len(live), "numberMisscheduled": 0,
                  "numberReady": ready, "observedGeneration": obj["metadata"].get("generation", 1)}
        status.update({k: v for k, v in (("numberAvailable", ready), ("updatedNumberScheduled", updated),
                                         ("numberUnavailable", 1 - ready)) if v > 0})
        write_status(self.client, obj, status)
        return None
