"""The instance manager of one CNPG Cluster: bootstrap (initdb or recovery through barman-cloud), run the
primary and its streaming replicas, fail over when the primary's pod is deleted, scale, archive WAL through the
Barman Cloud Plugin, reconcile the app owner's password, hibernate — and report it in the Cluster's status. One
thread per Cluster; the controller wakes it on every change of the Cluster or of one of its pods.

`spec.instances: N` runs N instances (cnpg_members.py): `<cluster>-1` is set up first (initdb, or recovery, as
the primary), the others are cloned from it as standbys (runtime/replication.py); the operator's decisions on
failover, joins and scale down are in cnpg_failover.py. Every instance runs this machine's PostgreSQL; the major a
Cluster's image stands for is CNPG's (cnpg_images.py).
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
import threading
from collections.abc import Callable
from typing import Any

from ..runtime import archive_timeout
from ..runtime.barman import StoreError, archiver_plugin, object_store
from ..runtime.postgres import PG_HBA, Instance, PostgresError
from ..runtime.replication import (REPLICATION_DEFAULTS, clone, ensure_replication_user, keep_wal_for_standbys, promote,
                                   wal_position, wal_receiver_running)
from ..runtime.waiting import wait_for
from ..timestamps import now, parse
from .base import condition
from .client import ApiError
from .cnpg_failover import (PENDING_FAILOVER, PHASE_CREATING_REPLICA, PHASE_FAILOVER, PHASE_FIRST_PRIMARY,
                            PHASE_HEALTHY, PHASE_WAITING_INSTANCES, WAITING_INSTANCES_REASON, deletable_replica,
                            most_advanced, serial_of)
from .cnpg_images import incompatible_data, requested_image
from .cnpg_members import Member
from .cnpg_recovery_job import RecoveryJob
from .objectstore import CatalogMaintenance

LOG = logging.getLogger(__name__)

SKIP_EMPTY_CHECK = "cnpg.io/skipEmptyWalArchiveCheck"
OPERATOR = "cnpg-operator"  # the controller's name (cnpg_cluster.py): the kubelet leaves pods it runs alone
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


class ClusterRunner:  # pylint: disable=too-many-instance-attributes
    def __init__(self, runtime: Any, client: Any, cluster: dict[str, Any],
                 make_pod: Callable[..., dict[str, Any] | None]):
        self.runtime = runtime
        self.client = client
        meta = cluster["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.cluster = cluster
        self.make_pod = make_pod  # (cluster, member, role) -> the created instance Pod (cnpg_cluster.py)
        old = cluster.get("status") or {}
        # The instances, by serial: what the status says after a restart of the sandbox, else none yet.
        self.members: dict[int, Member] = {}
        for name in old.get("instanceNames") or []:
            self._add_member(serial_of(name))
        self.latest_serial = int(old.get("latestGeneratedNode") or 0)
        self.current_primary = old.get("currentPrimary") or ""
        self.target_primary = old.get("targetPrimary") or ""
        self.primary_stamps = {key: old[key] for key in ("currentPrimaryTimestamp", "targetPrimaryTimestamp")
                               if key in old}
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # held while an instance is used (backups, databases)
        self.restore_env: dict[str, str] = {}  # the recovery source store's credentials, for restore_command
        self.phase = PHASE_FIRST_PRIMARY
        self.phase_reason = ""
        self.restoring: RecoveryJob | None = None  # the full-recovery Job whose restore runs now
        self.archiving: tuple[bool, str, str] | None = None
        self.applied_password: str | None = None
        self.promoted_once = False
        # pgDataImageInfo: the image (and its major) the data directory was made with, kept for its whole life.
        self.data_image: dict[str, Any] | None = old.get("pgDataImageInfo")
        self.refused: tuple[int, str] | None = None  # (generation, why) of a bootstrap that cannot succeed
        self.catalog = CatalogMaintenance(client, self.namespace)  # the plugin's sidecar in the primary's pod
        self.catalog_step: tuple | None = None  # its arguments, when the last step left a healthy primary
        self.thread = threading.Thread(target=self._main, name=f"cnpg-{self.namespace}/{self.name}", daemon=True)

    # --- what the other controllers use: the primary -------------------------------------------------------------

    @property
    def primary(self) -> Member | None:
        """The current primary's instance (the first one while the Cluster is set up; none before)."""
        return self.member(self.current_primary) or self.members.get(1)

    @property
    def pod_name(self) -> str:
        return self.primary.pod_name if self.primary is not None else f"{self.name}-1"

    @property
    def instance(self) -> Instance | None:
        return self.primary.instance if self.primary is not None else None

    @property
    def ready(self) -> bool:
        """The primary serves (backups and Database objects need nothing else)."""
        primary = self.primary
        return primary is not None and primary.ready and self.current_primary == primary.pod_name

    def member(self, pod_name: str) -> Member | None:
        """The instance running in the Pod `pod_name` of this Cluster, if any (pods/exec, tests)."""
        return next((m for m in list(self.members.values()) if m.pod_name == pod_name), None)

    def update(self, cluster: dict[str, Any]) -> None:
        self.cluster = cluster
        self.wake.set()

    def start(self) -> None:
        self.thread.start()

    def stop(self, remove: bool) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=60)
        with self.lock:
            for member in list(self.members.values()):
                if remove:
                    member.remove()
                else:
                    member.instance.stop()

    def _add_member(self, serial: int) -> Member:
        member = Member(self.runtime, self.cluster, serial)
        member.prepare()
        self.members[serial] = member
        return member

    # --- loop --------------------------------------------------------------------------------------------------

    def _main(self) -> None:
        while not self.stopping.is_set():
            self.catalog_step = None
            try:
                with self.lock:
                    self._step()
            except (PostgresError, StoreError, OSError) as exc:
                self._primary_down()
                self.phase_reason = str(exc)
                LOG.info("cluster %s/%s: %s", self.namespace, self.name, exc)
            except Exception as exc:  # pylint: disable=broad-exception-caught  # keep managing the cluster
                self._primary_down()
                self.phase_reason = f"internal error: {exc}"
                LOG.exception("cluster %s/%s", self.namespace, self.name)
            try:
                self._publish()
            except Exception:  # pylint: disable=broad-exception-caught
                LOG.exception("cluster %s/%s: status", self.namespace, self.name)
            if self.catalog_step is not None:
                # Outside the lock: the sidecar's maintenance is a runnable of its own, which a slow store listing
                # must not make backups, pod exec or the instance's management wait for.
                try:
                    self.catalog.cycle_if_due(*self.catalog_step)
                except Exception:  # pylint: disable=broad-exception-caught  # keep managing the cluster
                    LOG.exception("cluster %s/%s: catalog maintenance", self.namespace, self.name)
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
            self._stop_all(delete_pods=spec.get("instances", 1) == 0)
            self.archiving = None
            self.phase = "Cluster in hibernation" if annotations.get(HIBERNATION) == "on" else "Cluster is stopped"
            self.phase_reason = "no instance runs (hibernated, or spec.instances is 0)"
            return
        owner, database, password = credentials(self.client, self.cluster)
        if password is None:
            self.phase, self.phase_reason = PHASE_FIRST_PRIMARY, "waiting for the application secret"
            return
        store, server = self._store_and_server()
        lost = [m.pod_name for m in self.members.values() if m.observe_pod(self.client)]
        if self.current_primary in lost:
            self._fail_over(self.current_primary)
        primary = self.primary or self._add_member(1)
        if not self.current_primary:
            self.latest_serial = max(self.latest_serial, primary.serial)
            self._set_primary(primary.pod_name, target=True)
        self._ensure_pod(primary)
        if not primary.instance.bootstrapped():
            generation = self.cluster["metadata"].get("generation", 1)
            if self.refused and self.refused[0] == generation:
                self.phase, self.phase_reason, primary.ready = PHASE_FIRST_PRIMARY, self.refused[1], False
                return
            self._bootstrap(store, server, owner, database, password)
            if not primary.instance.bootstrapped():
                return
            image, major = self.requested_image()
            self.data_image = {"image": image, "majorVersion": major}
        if not primary.instance.is_running():
            self._start(primary, store, server)
        if primary.instance.in_recovery():
            self.phase, self.phase_reason, primary.ready = PHASE_FIRST_PRIMARY, "recovering (replaying WAL)", False
            return
        if not self.promoted_once:
            self.promoted_once = True
            ensure_replication_user(primary.instance)
            if store is not None:
                primary.instance.sql("SELECT pg_switch_wal()")  # the first archived segment proves archiving
        if password != self.applied_password:
            self._ensure_owner(owner, password)
            self.applied_password = password
        self.archiving = self._archiving_state() if store is not None else None
        primary.ready, primary.reason = True, ""
        self.phase, self.phase_reason = PHASE_HEALTHY, ""
        if store is not None:
            self.catalog_step = (primary.pod_uid, store, archiver_plugin(self.cluster).get("barmanObjectName", ""),
                                 server)
        if len(self.members) > 1 or spec.get("instances", 1) > 1:
            self._reconcile_replicas(store, server)

    def _stop_all(self, delete_pods: bool) -> None:
        """Hibernation stops every instance; `instances: 0` deletes their pods too (their data stays)."""
        for member in self.members.values():
            member.instance.stop()
            member.ready, member.started = False, False
            if delete_pods:
                self.client.delete("v1", "Pod", self.namespace, member.pod_name)
                member.pod_uid = None

    def _ensure_pod(self, member: Member) -> None:
        if member.pod_uid is None:
            role = "primary" if member.pod_name == self.current_primary else "replica"
            pod = self.make_pod(self.cluster, member, role)
            if pod is None:  # the deleted one is still terminating
                raise PostgresError(f"waiting for the deleted pod {member.pod_name} to be gone")
            member.pod_uid = pod["metadata"]["uid"]

    def _set_primary(self, pod_name: str, target: bool = False) -> None:
        stamp = now()
        if target or self.target_primary != pod_name:
            self.target_primary = pod_name
            self.primary_stamps["targetPrimaryTimestamp"] = stamp
        self.current_primary = pod_name
        self.primary_stamps["currentPrimaryTimestamp"] = stamp

    def _primary_down(self) -> None:
        primary = self.primary
        if primary is not None:
            primary.ready = False

    # --- failover and replicas -----------------------------------------------------------------------------------

    def _fail_over(self, old: str) -> None:
        """The primary's pod is gone: promote the most advanced running replica (cnpg_failover.py). Without one,
        the primary starts again in its new pod."""
        replicas = [m for m in self.members.values() if m.pod_name != old and m.instance.is_running()]
        if not replicas:
            return
        self.phase, self.phase_reason = PHASE_FAILOVER, f"Initiating a failover from {old}"
        self.target_primary = PENDING_FAILOVER
        self.primary_stamps["targetPrimaryTimestamp"] = now()
        self._publish()
        # CNPG elects only once every WAL receiver is down (ErrWalReceiversRunning), not to lose WAL in flight.
        try:
            wait_for(lambda: not any(wal_receiver_running(m.instance) for m in replicas), 30,
                     f"the WAL receivers of {self.namespace}/{self.name} to stop")
        except TimeoutError:
            LOG.info("cluster %s/%s: failing over with WAL receivers running", self.namespace, self.name)
        chosen = self.member(most_advanced((m.pod_name, wal_position(m.instance)) for m in replicas))
        self.phase_reason = f"Failing over from {old} to {chosen.pod_name}"
        self.target_primary = chosen.pod_name
        self.primary_stamps["targetPrimaryTimestamp"] = now()
        self._publish()
        LOG.info("cluster %s/%s: %s", self.namespace, self.name, self.phase_reason)
        promote(chosen.instance)
        self._set_primary(chosen.pod_name)

    def _reconcile_replicas(self, store, server) -> None:
        """Scale to `spec.instances` (down: the ready replica with the highest serial; up: new serials), then
        clone and run every replica; the phase says what is not ready yet."""
        spec = self.cluster.get("spec") or {}
        wanted = spec.get("instances", 1)
        if wanted > 1 and "wal_keep_size" not in ((spec.get("postgresql") or {}).get("parameters") or {}):
            keep_wal_for_standbys(self.primary.instance)
        while len(self.members) > wanted:
            replicas = [m.pod_name for m in self.members.values() if m.pod_name != self.current_primary]
            victim = self.member(deletable_replica(n for n in replicas if self.member(n).ready)
                                 or deletable_replica(replicas) or "")
            if victim is None:
                break
            LOG.info("cluster %s/%s: Scaling down - removing instance: %s", self.namespace, self.name,
                     victim.pod_name)
            self.client.delete("v1", "Pod", self.namespace, victim.pod_name)
            victim.remove()
            del self.members[victim.serial]
        while len(self.members) < wanted:
            self.latest_serial += 1
            self._add_member(self.latest_serial)
        for member in sorted(self.members.values(), key=lambda m: m.serial):
            if member.pod_name == self.current_primary:
                continue
            try:
                self._ensure_pod(member)
                self._run_replica(member, store, server)
            except (PostgresError, OSError) as exc:
                member.ready, member.reason = False, str(exc)
                LOG.info("cluster %s/%s: replica %s: %s", self.namespace, self.name, member.pod_name, exc)
        if self.phase == PHASE_HEALTHY and not all(m.ready for m in self.members.values()):
            self.phase, self.phase_reason = PHASE_WAITING_INSTANCES, WAITING_INSTANCES_REASON

    def _run_replica(self, member: Member, store, server) -> None:
        if not member.is_standby():
            # A new instance (CNPG's join Job, which the sandbox does not create) or the former primary, which
            # CNPG would pg_rewind and the sandbox clones again: a fresh copy of the primary through -rw.
            member.instance.stop()
            member.ready, member.reason = False, "joining the cluster (pg_basebackup from the primary)"
            self.phase, self.phase_reason = PHASE_CREATING_REPLICA, f"Creating replica {member.pod_name}-join"
            self._publish()  # the primary's pod is ready and labelled: -rw leads to it
            shutil.rmtree(member.instance.data_dir, ignore_errors=True)
            clone(member.instance, f"{self.name}-rw", member.pod_name,
                  self.runtime.network.resolver_env(self.namespace))
            self.phase, self.phase_reason = PHASE_HEALTHY, ""
        if not member.instance.is_running():
            self._start(member, store, server)
        member.ready, member.reason = True, ""

    # --- bootstrap -----------------------------------------------------------------------------------------------

    def _bootstrap(self, store, server, owner, database, password) -> None:
        annotations = self.cluster["metadata"].get("annotations") or {}
        if store is not None and annotations.get(SKIP_EMPTY_CHECK) != "enabled":
            checked = store.check_wal_archive(server)
            # Exit 1 (barman's OperationErrorExit) is WAL in the folder; any other failure (an unreachable or
            # untrusted store) fails the plugin's first Archive call instead, and the archiving reports it.
            if checked.returncode == 1:
                message = (checked.stderr or checked.stdout).strip()
                self.phase = PHASE_FIRST_PRIMARY
                last_line = message.splitlines()[-1] if message else ""
                self.phase_reason = (f"Expected empty archive: the WAL archive of serverName {server} in "
                                     f"{store.destination_path} is not empty ({last_line}); "
                                     "use a new cluster name (serverName)")
                self.primary.ready = False
                return
        recovery = (((self.cluster.get("spec") or {}).get("bootstrap") or {}).get("recovery"))
        self.phase, self.phase_reason = PHASE_FIRST_PRIMARY, "bootstrapping"
        self._publish()
        if recovery:
            self._restore(recovery)
            return
        self.instance.init()
        self._start(self.primary, store, server)
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
            self.refused = (self.cluster["metadata"].get("generation", 1),
                            incompatible_data(backup_major, image, major))
            raise StoreError(self.refused[1])
        # In CNPG's full-recovery Job (cnpg_recovery_job.py): its pod shows the restore, and exec reaches its PGDATA.
        job = RecoveryJob(self.client, self.cluster, self.primary.pod_name, image, OPERATOR)
        job.start()
        self.restoring = job
        try:
            store.prepare_recovery(origin, backup["backup_id"], self.instance,
                                   target_time.strftime("%Y-%m-%d %H:%M:%S.%f+00") if target_time else None)
        except Exception as exc:
            self.restoring = None
            job.finish(False, str(exc))
            raise
        self.restoring = None
        job.finish(True)
        self.instance.write_hba(PG_HBA)
        LOG.info("cluster %s/%s: restored backup %s of %s, replaying WAL", self.namespace, self.name,
                 backup["backup_id"], origin)

    # --- running -------------------------------------------------------------------------------------------------

    def _start(self, member: Member, store, server) -> None:
        # archive_timeout is one of CNPG's global defaults (pkg/postgres/configuration.go), archiving or not.
        settings = store.archive_settings(server, archive_timeout()) if store is not None else \
            {"wal_level": "replica", "archive_mode": "off", "archive_timeout": str(archive_timeout())}
        env = dict(self.restore_env)
        env.update(store.env if store is not None else {})
        env.update(self.runtime.network.resolver_env(self.namespace))  # a standby's primary_conninfo names -rw
        if (self.cluster.get("spec") or {}).get("instances", 1) > 1:
            settings.update(REPLICATION_DEFAULTS)
        # The Cluster's parameters win over the operator's defaults (archive_timeout among them), as in CNPG;
        # the archiving itself (archive_mode, archive_command) is the plugin's and cannot be set there.
        for key, value in (((self.cluster.get("spec") or {}).get("postgresql") or {}).get("parameters") or {}).items():
            if key not in ("archive_mode", "archive_command", "wal_level") or key not in settings:
                settings[key] = str(value)
        if member.started:
            member.restarts += 1  # the postmaster died in its pod: the container restarts
        member.instance.start(settings, env)
        member.started = True
        member.instance.wait_accepting()

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
        for member in list(self.members.values()):
            if member.pod_name == self.current_primary and not member.ready:
                member.reason = self.phase_reason or self.phase
            member.publish_pod(self.client, "primary" if member.pod_name == self.current_primary else "replica")

    def _status(self, cluster: dict[str, Any]) -> dict[str, Any]:
        old = cluster.get("status") or {}
        previous = old.get("conditions") or []
        generation = cluster["metadata"].get("generation", 1)
        instances = (cluster.get("spec") or {}).get("instances", 1)
        members = sorted(self.members.values(), key=lambda m: m.serial) if instances else []
        names = [m.pod_name for m in members]
        healthy = [m.pod_name for m in members if m.ready]
        # Ready once every instance is (CNPG: the Ready condition is True in the healthy phase only).
        ready = self.ready and len(healthy) == len(names)
        ready_reason = "ClusterIsReady" if ready else "ClusterIsNotReady"
        conditions = [c for c in previous if c.get("type") not in _OWN_CONDITIONS]
        conditions.append(condition("Ready", ready, ready_reason,
                                    "Cluster is Ready" if ready else (self.phase_reason or self.phase),
                                    observed_generation=generation, previous=previous))
        if archiver_plugin(cluster) is not None:
            ok, reason, message = self.archiving or (False, "ContinuousArchivingPending",
                                                     self.phase_reason or "the instance is not running")
            conditions.append(condition("ContinuousArchiving", ok, reason, message, observed_generation=generation,
                                        previous=previous))
        status = dict(old)
        status.update({
            "phase": self.phase, "instances": instances, "readyInstances": len(healthy),
            "instanceNames": names,
            "currentPrimary": self.current_primary if self.promoted_once else old.get("currentPrimary", ""),
            "targetPrimary": self.target_primary or self.pod_name, "writeService": f"{self.name}-rw",
            "readService": f"{self.name}-r", "latestGeneratedNode": max(self.latest_serial, 1),
            "conditions": conditions,
            "instancesStatus": {key: value for key, value in (("healthy", healthy),
                                                              ("failed", [n for n in names if n not in healthy]))
                                if value},
            "selector": f"cnpg.io/cluster={self.name}", "image": self.requested_image()[0],
        })
        if self.promoted_once:
            status.update(self.primary_stamps)
        if self.data_image:
            status["pgDataImageInfo"] = self.data_image
        if self.phase_reason:
            status["phaseReason"] = self.phase_reason[-1000:]
        else:
            status.pop("phaseReason", None)
        if self.primary is not None and self.primary.restarts:
            status["instancesReportedState"] = {self.primary.pod_name: {"isPrimary": True, "timeLineID": 1}}
        return status
