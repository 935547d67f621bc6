"""CNPG's full-recovery Job: a Cluster bootstrapped by `recovery` restores its base backup in a Job named
`<instance>-full-recovery` before the instance pod starts (cloudnative-pg pkg/specs/jobs.go: CreatePrimaryJobViaRecovery
and CreatePrimaryJob - labels cnpg.io/cluster, cnpg.io/instanceName and cnpg.io/jobRole=full-recovery on the Job and
its pod template, one container named after the role, the instance's PGDATA volume at /var/lib/postgresql/data, the
Cluster as owner, restartPolicy Never). A client sees the Job and its pod while the restore runs, and can exec into
the `full-recovery` container, whose PGDATA is the one being restored (what a person's `du` there shows).

The restore itself runs in the instance manager's thread (cnpg_instance.py), as before; this module gives it the
objects: the Job (without the PGDATA volume, as the sandbox's instance pods: the sandbox has no
PersistentVolumeClaims; exec maps /var/lib/postgresql/data/pgdata to the instance's folder; the job controller makes
its pod from the template; the kubelet binds it and leaves its process
to the operator, RUN_BY), the pod's status while it restores (Running, then Succeeded or Failed: the Job completes
or fails from it), and the exec target (runtime/podexec.py asks `exec_target`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..runtime.postgres import CNPG_PGDATA
from .client import ApiError
from .pods import RUN_BY
from .util import owner_ref

LOG = logging.getLogger(__name__)

ROLE = "full-recovery"
JOB_ROLE_LABEL = "cnpg.io/jobRole"
POD_WAIT = 30.0  # seconds for the job controller to make the pod


def job_manifest(cluster: dict[str, Any], instance_name: str, image: str, operator: str) -> dict[str, Any]:
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    labels = {"cnpg.io/instanceName": instance_name, "cnpg.io/cluster": name, JOB_ROLE_LABEL: ROLE,
              "app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": name,
              "app.kubernetes.io/component": "database", "app.kubernetes.io/managed-by": "cloudnative-pg"}
    job_name = f"{instance_name}-{ROLE}"
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name, "namespace": namespace, "labels": labels,
                     "ownerReferences": [owner_ref(cluster)]},
        "spec": {"template": {
            "metadata": {"labels": labels, "annotations": {RUN_BY: operator}},
            "spec": {"hostname": job_name, "restartPolicy": "Never", "automountServiceAccountToken": False,
                     "containers": [{"name": ROLE, "image": image,
                                     "command": ["/controller/manager", "instance", "restore"],
                                     "env": [{"name": "PGDATA", "value": CNPG_PGDATA},
                                             {"name": "POD_NAME", "value": job_name},
                                             {"name": "NAMESPACE", "value": namespace},
                                             {"name": "CLUSTER_NAME", "value": name}]}]}}},
    }


class RecoveryJob:
    """The Job and pod of one restore; `pod_uid` is the pod the restore runs "in" (None until it exists)."""

    def __init__(self, client: Any, cluster: dict[str, Any], instance_name: str, image: str, operator: str):
        self.client = client
        self.manifest = job_manifest(cluster, instance_name, image, operator)
        self.namespace = cluster["metadata"]["namespace"]
        self.pod: dict[str, Any] | None = None
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    @property
    def pod_uid(self) -> str | None:
        return self.pod["metadata"]["uid"] if self.pod else None

    def start(self) -> None:
        """Create the Job (or find it), wait for its pod and show it running. A failure here leaves the restore
        without visible objects, never without its restore."""
        try:
            job = self.client.get("batch/v1", "Job", self.namespace, self.manifest["metadata"]["name"])
            if job is None:
                job = self.client.create(self.manifest)
            deadline = time.monotonic() + POD_WAIT
            while self.pod is None and time.monotonic() < deadline:
                pods = self.client.list("v1", "Pod", self.namespace,
                                        f"batch.kubernetes.io/controller-uid={job['metadata']['uid']}")
                active = [pod for pod in pods if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                          and not pod["metadata"].get("deletionTimestamp")]
                if active:
                    self.pod = active[0]
                else:
                    time.sleep(0.1)
            if self.pod is not None:
                self._status("Running")
        except ApiError as error:
            LOG.warning("full-recovery job of %s: %s", self.namespace, error)

    def finish(self, succeeded: bool, message: str = "") -> None:
        if self.pod is None:
            return
        try:
            self._status("Succeeded" if succeeded else "Failed", message)
        except ApiError as error:
            LOG.warning("full-recovery job of %s: %s", self.namespace, error)

    def _status(self, phase: str, message: str = "") -> None:
        pod = self.client.get("v1", "Pod", self.namespace, self.pod["metadata"]["name"])
        if pod is None:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        running = phase == "Running"
        state = {"running": {"startedAt": self.started}} if running else {"terminated": {
            "exitCode": 0 if phase == "Succeeded" else 1, "reason": "Completed" if phase == "Succeeded" else "Error",
            "message": message[-500:], "startedAt": self.started, "finishedAt": stamp}}
        conditions = [{"type": kind, "status": "True" if value else "False", "lastTransitionTime": stamp}
                      for kind, value in (("Initialized", True), ("Ready", running), ("ContainersReady", running),
                                          ("PodScheduled", True))]
        self.client.update_status(pod, {
            "phase": phase, "hostIP": "127.0.0.1", "startTime": self.started, "conditions": conditions,
            "containerStatuses": [{"name": ROLE, "image": self.manifest["spec"]["template"]["spec"]["containers"][0]
                                   ["image"], "imageID": "", "ready": running, "started": running,
                                   "restartCount": 0, "state": state}]})
        self.pod = pod
