"""The kubelet (and the scheduler) of the sandbox's one node: every Pod not run by another controller is bound to
the node (`pods/binding`, as kube-scheduler does) and becomes a real process (sandbox/runtime/pod.py).

A deleted Pod of the node is only marked (deletionTimestamp, grace period): the kubelet stops its container and
then deletes it for good with grace period 0 and its uid as precondition, as kubelet's status manager does.
"""

from __future__ import annotations

import threading

from ..runtime.pod import PodRunner
from .base import Controller
from .client import ApiError

# Pods whose process another controller runs (the CNPG instances): the kubelet leaves them alone.
RUN_BY = "sandbox.mlops.io/run-by"
NODE = "sandbox"


class PodController(Controller):
    name = "kubelet"
    kind = ("v1", "Pod")

    def __init__(self, client, runtime=None):
        super().__init__(client, runtime)
        self.runners: dict[tuple[str, str], PodRunner] = runtime.pods if runtime is not None else {}
        self._stopping: set[str] = set()  # uids of pods whose container is being stopped
        self._lock = threading.Lock()

    def reconcile(self, obj, namespace, name):
        key = (namespace, name)
        with self._lock:
            runner = self.runners.get(key)
            deleting = obj is not None and bool(obj["metadata"].get("deletionTimestamp"))
            gone = obj is None or deleting
            if runner is not None and (gone or runner.uid != obj["metadata"]["uid"]):
                del self.runners[key]
                self._stopping.add(runner.uid)
                if deleting and obj["metadata"].get("deletionGracePeriodSeconds") is not None:
                    runner.grace = min(runner.grace, float(obj["metadata"]["deletionGracePeriodSeconds"]))
                threading.Thread(target=self._stop, args=(runner, obj if deleting else None),
                                 name=f"stop-pod-{namespace}/{name}", daemon=True).start()
                runner = None
            elif runner is None and deleting and (obj.get("spec") or {}).get("nodeName") == NODE and \
                    obj["metadata"]["uid"] not in self._stopping:
                # Nothing runs it (a restarted sandbox, or a pod that never started): delete it for good now.
                threading.Thread(target=self._finish_deletion, args=(obj,), daemon=True).start()
            if gone or runner is not None:
                return None
            phase = (obj.get("status") or {}).get("phase")
            if not (obj.get("spec") or {}).get("nodeName") and phase not in ("Succeeded", "Failed"):
                self._bind(obj)  # kube-scheduler binds every pod, those another controller runs (CNPG's) too
            if (obj["metadata"].get("annotations") or {}).get(RUN_BY):
                return None
            if phase in ("Succeeded", "Failed"):
                return None  # finished before a restart of the sandbox: nothing to run again
            runner = PodRunner(self.runtime, self.client, obj)
            self.runners[key] = runner
        runner.start()
        return None

    def _bind(self, pod):
        """What kube-scheduler does for a new pod: a Binding to the node (sets spec.nodeName, PodScheduled)."""
        meta = pod["metadata"]
        try:
            self.client.post("v1", "Pod", meta["namespace"], meta["name"], "binding",
                             {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta["name"]},
                              "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}})
        except ApiError as error:
            if error.code not in (404, 409):
                raise

    def _stop(self, runner, deleted):
        try:
            runner.stop()
            if deleted is not None:
                self._finish_deletion(deleted)
        finally:
            with self._lock:
                self._stopping.discard(runner.uid)

    def _finish_deletion(self, pod):
        """The container stopped: the kubelet's final delete (grace 0, this pod's uid only)."""
        meta = pod["metadata"]
        self.client.delete("v1", "Pod", meta["namespace"], meta["name"], grace_period=0, uid=meta["uid"])

    def stop(self):
        with self._lock:
            runners = list(self.runners.values())
            self.runners.clear()
        threads = [threading.Thread(target=r.stop, daemon=True) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
