"""The CNPG operator's Cluster side: services and the app secret (cnpg_objects.py, as the stand-in makes them), the
instance Pod objects, and one instance manager thread per Cluster (cnpg_instance.py) that runs the real PostgreSQL
instances (a primary and its replicas) and creates their Pods through `_instance_pod`."""

from __future__ import annotations

import threading

from ..runtime.postgres import CNPG_PGDATA, CNPG_SOCKETS, CNPG_TMP, PORT, socket_dir
from .base import Controller
from .cnpg_images import requested_image
from .cnpg_instance import ClusterRunner
from .cnpg_objects import ensure_app_secret, ensure_services
from .pods import RUN_BY
from .util import owner_ref

SOCKET_ANNOTATION = "sandbox.mlops.io/postgres-socket"


def instance_env(cluster, pod_name):
    """The env of the instance's `postgres` container (CNPG pkg/specs/pods.go, CreatePodEnvConfig): psql in it
    reaches the instance over its socket as the superuser, as `kubectl cnpg psql` does."""
    values = {"PGDATA": CNPG_PGDATA, "POD_NAME": pod_name, "NAMESPACE": cluster["metadata"]["namespace"],
              "CLUSTER_NAME": cluster["metadata"]["name"], "PSQL_HISTORY": f"{CNPG_TMP}/.psql_history",
              "PGPORT": str(PORT), "PGHOST": CNPG_SOCKETS, "TMPDIR": CNPG_TMP}
    return [{"name": key, "value": value} for key, value in values.items()]


class ClusterController(Controller):
    """Creates the operator's objects and runs a real instance behind them."""

    name = "cnpg-operator"
    kind = ("postgresql.cnpg.io/v1", "Cluster")
    # A deleted instance Pod wakes the Cluster's instance manager (a failover when it held the primary).
    owns = (("v1", "Secret"), ("v1", "Pod"))

    def __init__(self, client, runtime=None):
        super().__init__(client, runtime)
        self.runners: dict[tuple[str, str], ClusterRunner] = runtime.clusters if runtime is not None else {}
        self._lock = threading.Lock()

    def reconcile(self, obj, namespace, name):
        key = (namespace, name)
        with self._lock:
            runner = self.runners.get(key)
            if runner is not None and (obj is None or runner.uid != obj["metadata"]["uid"]):
                del self.runners[key]
                # The Cluster is gone: its instance and data go too (CNPG deletes the PVCs with the Cluster).
                threading.Thread(target=runner.stop, args=(True,), daemon=True).start()
                runner = None
            if obj is None:
                return None
        ensure_services(self.client, obj)
        ensure_app_secret(self.client, obj)
        with self._lock:
            if runner is None:
                runner = ClusterRunner(self.runtime, self.client, obj, self._instance_pod)
                self.runners[key] = runner
                runner.start()
            else:
                runner.update(obj)
        return None

    def _instance_pod(self, cluster, member, role):
        """The Pod of the instance `member` (cnpg_members.py), labelled with its role; the instance manager
        creates it (and creates it again after it was deleted). None while a deleted one is still terminating."""
        name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
        pod_name = member.pod_name
        existing = self.client.get("v1", "Pod", namespace, pod_name)
        if existing is not None:
            return None if existing["metadata"].get("deletionTimestamp") else existing
        image = requested_image(self.client, cluster)[0]
        return self.client.create({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": namespace,
                         "labels": {"cnpg.io/cluster": name, "cnpg.io/instanceName": pod_name,
                                    "cnpg.io/instanceRole": role, "role": role,
                                    "cnpg.io/podRole": "instance"},
                         "annotations": {RUN_BY: self.name, "cnpg.io/nodeSerial": str(member.serial),
                                         # where `psql -h <folder> -U postgres` reaches the instance as superuser
                                         SOCKET_ANNOTATION: str(socket_dir(member.address))},
                         "ownerReferences": [owner_ref(cluster)]},
            "spec": {"containers": [{"name": "postgres", "image": image, "env": instance_env(cluster, pod_name),
                                     "ports": [{"name": "postgresql", "containerPort": 5432, "protocol": "TCP"}]}]},
        })

    def stop(self):
        with self._lock:
            runners = list(self.runners.values())
            self.runners.clear()
        threads = [threading.Thread(target=r.stop, args=(False,), daemon=True) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
