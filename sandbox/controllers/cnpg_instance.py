"""The instance manager of one CNPG Cluster: bootstrap (initdb or recovery through barman-cloud), run the
primary, archive WAL through the Barman Cloud Plugin, reconcile the app owner's password, hibernate — and
report it in the Cluster's status. One thread per Cluster; the controller wakes it on every change.

The sandbox runs the primary only: `spec.instances: N` reports N instances with one ready (no replicas). Every
instance runs this machine's PostgreSQL; the major a Cluster's image stands for is CNPG's (cnpg_images.py).
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
import threading
import time
from typing import Any

from ..runtime import archive_timeout
from ..runtime.barman import StoreError, archiver_plugin, object_store
from ..runtime.postgres import PG_HBA, Instance, PostgresError
from ..timestamps import parse
from .base import condition
from .client import ApiError
from .cnpg_images import incompatible_data, requested_image

LOG = logging.getLogger(__name__)

SKIP_EMPTY_CHECK = "cnpg.io/skipEmptyWalArchiveCheck"
HIBERNATION = "cnpg.io/hibernation"
_OWN_CONDITIONS = ("Ready", "ContinuousArchiving")


def credentials(client: Any, cluster: dict[str, Any]) -> tuple[str, str, str | None]:
    """(owner, database, password or None while the secret is missing) of the application user."""
    bootstrap = (cluster.get("spec") or {}).get("bootstrap") or {}
    method = bootstrap.get("recovery") or bootstrap.get("initdb") or {}
    database = method.get("database", "app")
    owner = method.get("owner", database)
    name = (method.get("secret") or {}).get("name") or f"{cluster['metadata']['name']}-app"
    secret = client.get("v1", "Secret", cluster["metadata"]["namespace"], name)
    if secret is None:
        return owner, database, None
    data = secret.get("data") or {}
    if "username" in data:
        owner = base64.b64decode(data["username"]).decode()
    password = base64.b64decode(data["password"]).decode() if "password" in data else None
    return owner, database, password


class ClusterRunner:
    def __init__(self, runtime: Any, client: Any, cluster: dict[str, Any]):
        self.runtime = runtime
        self.client = client
        meta = cluster["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.cluster = cluster
        self.pod_name = f"{self.name}-1"
        self.address = runtime.network.pod_address(self.uid)
        self.instance = Instance(runtime.postgres_dir / self.namespace / self.pod_name, self.address,
                                 runtime.registry)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # held while the instance is used (backups, databases)
        self.restore_env: dict[str, str] = {}  # the recovery source store's credentials, for restore_command
        self.phase = "Setting up primary"
        self.phase_reason = ""
        self.ready = False
        self.archiving: tuple[bool, str, str] | None = None
        self.applied_password: str | None = None
        self.restarts = 0
        self.promoted_once = False
        # pgDataImageInfo: the image (and its major) the data directory was made with, kept for its whole life.
        self.data_image: dict[str, Any] | None = (cluster.get("status") or {}).get("pgDataImageInfo")
        self.refused: tuple[int, str] | None = None  # (generation, why) of a bootstrap that cannot succeed
        self.thread = threading.Thread(target=self._main, name=f"cnpg-{self.namespace}/{self.name}", daemon=True)

    def update(self, cluster: dict[str, Any]) -> None:
        self.cluster = cluster
        self.wake.set()

    def start(self) -> None:
        self.instance.prepare()
        logs = self.runtime.pod_log_dir(self.namespace, self.pod_name)  # pods/log of the instance pod
        logs.mkdir(parents=True, exist_ok=True)
        link = logs / "postgres.log"
        if not link.is_symlink():
            link.symlink_to(self.instance.log_file)
        self.thread.start()

    def stop(self, remove: bool) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=60)
        with self.lock:
            if remove:
                self.instance.remove()
                shutil.rmtree(self.runtime.pods_dir / self.namespace / self.pod_name, ignore_errors=True)
                self.runtime.network.release_pod(self.uid)
            else:
                self.instance.stop()

    # --- loop --------------------------------------------------------------------------------------------------

    def _main(self) -> None:
        while not self.stopping.is_set():
            try:
                with self.lock:
                    self._step()
            except (PostgresError, StoreError, OSError) as exc:
                self.ready = False
                self.phase_reason = str(exc)
                LOG.info("cluster %s/%s: %s", self.namespace, self.name, exc)
            except Exception as exc:  # pylint: disable=broad-exception-caught  # keep managing the cluster
                self.ready = False
                self.phase_reason = f"internal error: {exc}"
                LOG.exception("cluster %s/%s", self.namespace, self.name)
            try:
                self._publish()
            except Exception:  # pylint: disable=broad-exception-caught
                LOG.exception("cluster %s/%s: status", self.namespace, self.name)
            self.wake.wait(2.0)
            self.wake.clear()

    def requested_image(self) -> tuple[str, int]:
        return requested_image(self.client, self.cluster)

    def _store_and_server(self):
        plugin = archiver_plugin(self.cluster)
        if plugin is None:
            return None, None
        store = object_store(self.client, self.namespace, plugin.get("barmanObjectName", ""),
                             self.runtime.network.resolver_env(self.namespace))
        return store, plugin["serverName"]

    def _step(self) -> None:
        spec = self.cluster.get("spec") or {}
        annotations = self.cluster["metadata"].get("annotations") or {}
        wanted = spec.get("instances", 1) > 0 and annotations.get(HIBERNATION) != "on"
        if not wanted:
            if self.instance.is_running():
                self.instance.stop()
            self.ready, self.archiving = False, None
            self.phase = "Cluster in hibernation" if annotations.get(HIBERNATION) == "on" else "Cluster is stopped"
            self.phase_reason = "no instance runs (hibernated, or spec.instances is 0)"
            return
        owner, database, password = credentials(self.client, self.cluster)
        if password is None:
            self.phase, self.phase_reason = "Setting up primary", "waiting for the application secret"
            return
        store, server = self._store_and_server()
        if not self.instance.bootstrapped():
            generation = self.cluster["metadata"].get("generation", 1)
            if self.refused and self.refused[0] == generation:
                self.phase, self.phase_reason, self.ready = "Setting up primary", self.refused[1], False
                return
            self._bootstrap(store, server, owner, database, password)
            if not self.instance.bootstrapped():
                return
            image, major = self.requested_image()
            self.data_image = {"image": image, "majorVersion": major}
        if not self.instance.is_running():
            if self.promoted_once:
                self.restarts += 1
            self._start(store, server)
        if self.instance.in_recovery():
            self.phase, self.phase_reason, self.ready = "Setting up primary", "recovering (replaying WAL)", False
            return
        if not self.promoted_once:
            self.promoted_once = True
            if store is not None:
                self.instance.sql("SELECT pg_switch_wal()")  # the first archived segment proves archiving
        if password != self.applied_password:
            self._ensure_owner(owner, password)
            self.applied_password = password
        self.archiving = self._archiving_state() if store is not None else None
        self.phase, self.phase_reason, self.ready = "Cluster in healthy state", "", True

    # --- bootstrap -----------------------------------------------------------------------------------------------

    def _bootstrap(self, store, server, owner, database, password) -> None:
        annotations = self.cluster["metadata"].get("annotations") or {}
        if store is not None and annotations.get(SKIP_EMPTY_CHECK) != "enabled":
            checked = store.check_wal_archive(server)
            if checked.returncode != 0:
                message = (checked.stderr or checked.stdout).strip()
                self.phase = "Setting up primary"
                self.phase_reason = (f"Expected empty archive: the WAL archive of serverName {server} in "
                                     f"{store.destination_path} is not empty ({message.splitlines()[-1] if message else ''}); "
                                     "use a new cluster name (serverName)")
                self.ready = False
                return
        recovery = (((self.cluster.get("spec") or {}).get("bootstrap") or {}).get("recovery"))
        self.phase, self.phase_reason = "Setting up primary", "bootstrapping"
        self._publish()
        if recovery:
            self._restore(recovery)
            return
        self.instance.init()
        self._start(store, server)
        self.instance.sql(f'CREATE ROLE "{owner}" LOGIN PASSWORD %s', (password,))
        self.instance.sql(f'CREATE DATABASE "{database}" OWNER "{owner}"')
        self.applied_password = password

    def _restore(self, recovery: dict[str, Any]) -> None:
        spec = self.cluster.get("spec") or {}
        source_name = recovery.get("source", "")
        source = next((c for c in spec.get("externalClusters") or [] if c.get("name") == source_name), None)
        if source is None or not (source.get("plugin") or {}).get("parameters"):
            raise StoreError(f"bootstrap.recovery.source {source_name!r} is not an externalCluster with the "
                             "barman-cloud plugin")
        parameters = source["plugin"]["parameters"]
        store = object_store(self.client, self.namespace, parameters.get("barmanObjectName", ""),
                             self.runtime.network.resolver_env(self.namespace))
        origin = parameters.get("serverName", source_name)
        # The restore_command runs in the postmaster: it needs the SOURCE store's credentials, also when this
        # cluster archives nowhere (a drill), as the plugin's sidecar has them from the recovery ObjectStore.
        self.restore_env = dict(store.env)
        target = (recovery.get("recoveryTarget") or {}).get("targetTime")
        target_time = parse(target) if target else None
        # The plugin's rule (cloudnative-pg/barman-cloud, pkg/catalog: the catalog sorted by begin time,
        # findClosestBackupFromTargetTime): the newest completed backup whose end is not after the target.
        done = sorted((b for b in store.list_backups(origin) if b.get("status") == "DONE" and b.get("end_time_iso")),
                      key=lambda b: (parse(b.get("begin_time_iso") or b["end_time_iso"]),
                                     parse(b["end_time_iso"])))
        if target_time is not None:
            done = [b for b in done if parse(b["end_time_iso"]) <= target_time]
        if not done:
            raise StoreError(f"no completed backup of {origin} in {store.destination_path}"
                             + (f" ends at or before {target}" if target else ""))
        backup = done[-1]
        image, major = self.requested_image()
        backup_major = store.backup_major(origin, backup["backup_id"])
        if backup_major is not None and backup_major != major:
            # The restore itself succeeds; PostgreSQL then refuses the data directory, and the instance never starts.
            self.refused = (self.cluster["metadata"].get("generation", 1), incompatible_data(backup_major, image, major))
            raise StoreError(self.refused[1])
        store.prepare_recovery(origin, backup["backup_id"], self.instance,
                               target_time.strftime("%Y-%m-%d %H:%M:%S.%f+00") if target_time else None)
        self.instance.write_hba(PG_HBA)
        LOG.info("cluster %s/%s: restored backup %s of %s, replaying WAL", self.namespace, self.name,
                 backup["backup_id"], origin)

    # --- running -------------------------------------------------------------------------------------------------

    def _start(self, store, server) -> None:
        settings = store.archive_settings(server, archive_timeout()) if store is not None else \
            {"wal_level": "replica", "archive_mode": "off"}
        env = dict(self.restore_env)
        env.update(store.env if store is not None else {})
        # The Cluster's parameters win over the operator's defaults (archive_timeout among them), as in CNPG;
        # the archiving itself (archive_mode, archive_command) is the plugin's and cannot be set there.
        for key, value in (((self.cluster.get("spec") or {}).get("postgresql") or {}).get("parameters") or {}).items():
            if key not in ("archive_mode", "archive_command", "wal_level") or key not in settings:
                settings[key] = str(value)
        self.instance.start(settings, env)
        self.instance.wait_accepting()

    def _ensure_owner(self, owner: str, password: str) -> None:
        exists = self.instance.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,))
        verb = "ALTER" if exists else "CREATE"
        self.instance.sql(f'{verb} ROLE "{owner}" LOGIN PASSWORD %s', (password,))

    def _archiving_state(self) -> tuple[bool, str, str]:
        row = self.instance.sql("SELECT archived_count, last_archived_time, failed_count, last_failed_time, "
                                "last_failed_wal FROM pg_stat_archiver")[0]
        archived, last_ok, _failed, last_failed, failed_wal = row
        if last_failed is not None and (last_ok is None or last_failed > last_ok):
            lines = [line for line in self.instance.log_tail(6000).splitlines()
                     if re.search(r"ERROR|archive command failed|barman", line)]
            return False, "ContinuousArchivingFailing", f"archiving {failed_wal} failed: " + " | ".join(lines[-3:])
        if archived:
            return True, "ContinuousArchivingSuccess", "Continuous archiving is working"
        return False, "ContinuousArchivingPending", "no WAL segment archived yet"

    # --- status --------------------------------------------------------------------------------------------------

    def _publish(self) -> None:
        for _attempt in range(3):
            current = self.client.get("postgresql.cnpg.io/v1", "Cluster", self.namespace, self.name)
            if current is None or current["metadata"]["uid"] != self.uid:
                return
            self.cluster = current
            status = self._status(current)
            if status == current.get("status"):
                break
            try:
                self.client.update_status(current, status)
                break
            except ApiError as error:
                if error.code != 409:
                    raise
        self._publish_pod()

    def _status(self, cluster: dict[str, Any]) -> dict[str, Any]:
        old = cluster.get("status") or {}
        previous = old.get("conditions") or []
        generation = cluster["metadata"].get("generation", 1)
        ready_reason = "ClusterIsReady" if self.ready else "ClusterIsNotReady"
        conditions = [c for c in previous if c.get("type") not in _OWN_CONDITIONS]
        conditions.append(condition("Ready", self.ready, ready_reason,
                                    "Cluster is Ready" if self.ready else (self.phase_reason or self.phase),
                                    observed_generation=generation, previous=previous))
        if archiver_plugin(cluster) is not None:
            ok, reason, message = self.archiving or (False, "ContinuousArchivingPending",
                                                     self.phase_reason or "the instance is not running")
            conditions.append(condition("ContinuousArchiving", ok, reason, message, observed_generation=generation,
                                        previous=previous))
        instances = (cluster.get("spec") or {}).get("instances", 1)
        names = [self.pod_name] if instances else []
        status = dict(old)
        status.update({
            "phase": self.phase, "instances": instances, "readyInstances": 1 if self.ready else 0,
            "instanceNames": names, "currentPrimary": self.pod_name if self.ready else old.get("currentPrimary", ""),
            "targetPrimary": self.pod_name, "writeService": f"{self.name}-rw", "readService": f"{self.name}-r",
            "latestGeneratedNode": 1, "conditions": conditions,
            "instancesStatus": {"healthy" if self.ready else "failed": names} if names else {},
            "selector": f"cnpg.io/cluster={self.name}", "image": self.requested_image()[0],
        })
        if self.data_image:
            status["pgDataImageInfo"] = self.data_image
        if self.phase_reason:
            status["phaseReason"] = self.phase_reason[-1000:]
        else:
            status.pop("phaseReason", None)
        if self.restarts:
            status["instancesReportedState"] = {self.pod_name: {"isPrimary": True, "timeLineID": 1}}
        return status

    def _publish_pod(self) -> None:
        pod = self.client.get("v1", "Pod", self.namespace, self.pod_name)
        if pod is None:
            return
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
                                                      "message": self.phase_reason[-500:]}}}]}
        old = pod.get("status") or {}
        if running and old.get("containerStatuses"):
            status["containerStatuses"][0]["state"] = old["containerStatuses"][0].get("state") \
                if "running" in old["containerStatuses"][0].get("state", {}) else status["containerStatuses"][0]["state"]
        if status != old:
            try:
                self.client.update_status(pod, status)
            except ApiError as error:
                if error.code not in (404, 409):
                    raise
