"""The kubelet: every Pod (not run by another controller) becomes a real process (sandbox/runtime/pod.py)."""

from __future__ import annotations

import threading

from ..runtime.pod import PodRunner
from .base import Controller

# Pods whose process another controller runs (the CNPG instances): the kubelet leaves them alone.
RUN_BY = "sandbox.mlops.io/run-by"


class PodController(Controller):
    name = "kubelet"
    kind = ("v1", "Pod")

    def __init__(self, client, runtime=None):
        super().__init__(client, runtime)
        self.runners: dict[tuple[str, str], PodRunner] = {}
        self._lock = threading.Lock()

    def reconcile(self, obj, namespace, name):
        key = (namespace, name)
        with self._lock:
            runner = self.runners.get(key)
            gone = obj is None or bool(obj["metadata"].get("deletionTimestamp"))
            if runner is not None and (gone or runner.uid != obj["metadata"]["uid"]):
                del self.runners[key]
                threading.Thread(target=runner.stop, name=f"stop-pod-{namespace}/{name}", daemon=True).start()
                runner = None
            if gone or runner is not None or (obj["metadata"].get("annotations") or {}).get(RUN_BY):
                return None
            phase = (obj.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                return None  # finished before a restart of the sandbox: nothing to run again
            runner = PodRunner(self.runtime, self.client, obj)
            self.runners[key] = runner
        runner.start()
        return None

    def stop(self):
        with self._lock:
            runners = list(self.runners.values())
            self.runners.clear()
        threads = [threading.Thread(target=r.stop, daemon=True) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
