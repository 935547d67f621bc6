"""One instance of a CNPG Cluster, `<cluster>-<serial>`: its PostgreSQL (data, socket and log under its own
folder, on its own loopback address) and the Pod object it runs in, whose status and role labels it keeps.

A deleted Pod takes its container with it: the instance notices the Pod object is gone or another (`pod_uid`)
and stops its postmaster, as the kubelet kills the container of a deleted pod. Its data stays, as a CNPG
instance's PVC outlives its pod.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from ..runtime.postgres import Instance
from .client import ApiError

ROLE_LABELS = ("cnpg.io/instanceRole", "role")  # CNPG sets both (pkg/utils/labels_annotations.go, SetInstanceRole)


class Member:
    def __init__(self, runtime: Any, cluster: dict[str, Any], serial: int):
        meta = cluster["metadata"]
        self.runtime = runtime
        self.namespace, self.serial = meta["namespace"], serial
        self.pod_name = f"{meta['name']}-{serial}"
        self.address_key = f"{meta['uid']}/{serial}"
        self.address = runtime.network.pod_address(self.address_key)
        self.instance = Instance(runtime.postgres_dir / self.namespace / self.pod_name, self.address,
                                 runtime.registry)
        self.pod_uid: str | None = None  # the Pod object the instance runs in
        self.ready = False
        self.restarts = 0  # of the container in its current pod
        self.started = False  # its postmaster was started in its current pod (a new start is a restart)
        self.reason = ""  # why it is not ready

    def prepare(self) -> None:
        self.instance.prepare()
        logs = self.runtime.pod_log_dir(self.namespace, self.pod_name)  # pods/log of the instance pod
        logs.mkdir(parents=True, exist_ok=True)
        link = logs / "postgres.log"
        if not link.is_symlink():
            link.symlink_to(self.instance.log_file)

    def is_standby(self) -> bool:
        """Whether the data folder starts as a standby (a replica's clone; a former primary is not one)."""
        return (self.instance.data_dir / "standby.signal").exists()

    def remove(self) -> None:
        """The instance and its data (its PVC) go: a scale down, or the Cluster's deletion."""
        self.instance.remove()
        shutil.rmtree(self.runtime.pods_dir / self.namespace / self.pod_name, ignore_errors=True)
        self.runtime.network.release_pod(self.address_key)

    def observe_pod(self, client: Any) -> bool:
        """Adopt the instance's current Pod object; True when the one it ran in was deleted (the postmaster is
        stopped then)."""
        pod = client.get("v1", "Pod", self.namespace, self.pod_name)
        # A terminating pod is as good as gone: its container is being stopped.
        uid = pod["metadata"]["uid"] if pod is not None and not pod["metadata"].get("deletionTimestamp") else None
        lost = self.pod_uid is not None and uid != self.pod_uid
        if lost:
            self.instance.stop()
            self.ready, self.started, self.restarts, self.reason = False, False, 0, "its pod was deleted"
        self.pod_uid = uid
        return lost

    def publish_pod(self, client: Any, role: str) -> None:
        """The Pod's role labels (the operator's) and its status (the kubelet's, from the instance)."""
        pod = client.get("v1", "Pod", self.namespace, self.pod_name)
        if pod is None:
            return
        labels = pod["metadata"].get("labels") or {}
        if any(labels.get(label) != role for label in ROLE_LABELS):
            pod["metadata"]["labels"] = dict(labels, **{label: role for label in ROLE_LABELS})
            try:
                pod = client.update(pod)
            except ApiError as error:
                if error.code not in (404, 409):
                    raise
                return
        self._publish_status(client, pod)

    def _publish_status(self, client: Any, pod: dict[str, Any]) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        previous = {c["type"]: c for c in (pod.get("status") or {}).get("conditions") or []}

        def cond(kind, value):
            text = "True" if value else "False"
            earlier = previous.get(kind)
            return {"type": kind, "status": text, "lastTransitionTime":
                    earlier["lastTransitionTime"] if earlier and earlier.get("status") == text else stamp}
        running = self.instance.is_running()
        status = {"phase": "Running" if running else "Pending", "podIP": self.address,
                  "podIPs": [{"ip": self.address}], "hostIP": "127.0.0.1",
                  "conditions": [cond("Initialized", True), cond("Ready", self.ready),
                                 cond("ContainersReady", self.ready), cond("PodScheduled", True)],
                  "containerStatuses": [{"name": "postgres", "image": pod["spec"]["containers"][0]["image"],
                                         "imageID": "", "ready": self.ready, "started": running,
                                         "restartCount": self.restarts,
                                         "state": {"running": {"startedAt": stamp}} if running else
                                         {"waiting": {"reason": "PodInitializing",
                                                      "message": self.reason[-500:]}}}]}
        old = pod.get("status") or {}
        earlier = (old.get("containerStatuses") or [{}])[0].get("state") or {}
        if running and "running" in earlier:
            status["containerStatuses"][0]["state"] = earlier  # since when it runs
        if status != old:
            try:
                client.update_status(pod, status)
            except ApiError as error:
                if error.code not in (404, 409):
                    raise
