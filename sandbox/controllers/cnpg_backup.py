"""CNPG Backups and ScheduledBackups through the Barman Cloud Plugin.

- Backup with `method: plugin` (plugin barman-cloud.cloudnative-pg.io): barman-cloud-backup of the cluster's
  primary into its ObjectStore under its serverName; status `phase` running -> completed|failed, `backupId`,
  `startedAt`, `stoppedAt`, WALs, `error`; then the ObjectStore's recovery window and the Cluster's
  `LastBackupSucceeded` condition. Any other method fails like CNPG with the plugin only: "cluster has no backup
  section".
- ScheduledBackup: six-field cron, `immediate`, `suspend`, `backupOwnerReference` (none|self|cluster). Tests (and
  people) trigger a run now with the annotation `sandbox.mlops.io/trigger-backup: <any new value>`.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any

from ..runtime import cron
from ..runtime.barman import PLUGIN, StoreError, archiver_plugin, object_store
from ..timestamps import format_time, parse
from .base import Controller, condition, now
from .cnpg_images import version_num
from .client import ApiError
from .objectstore import record_failed_backup, refresh_window
from .util import owner_ref, write_status
from .workers import Workers

LOG = logging.getLogger(__name__)

TRIGGER = "sandbox.mlops.io/trigger-backup"
_FINISHED = ("completed", "failed")


class BackupController(Controller):
    name = "cnpg-backup"
    kind = ("postgresql.cnpg.io/v1", "Backup")

    def __init__(self, client, runtime=None):
        super().__init__(client, runtime)
        self._workers = Workers("backup")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        status = obj.get("status") or {}
        if status.get("phase") in _FINISHED:
            return None
        spec = obj.get("spec") or {}
        cluster_name = (spec.get("cluster") or {}).get("name", "")
        if spec.get("method", "barmanObjectStore") != "plugin":
            self._fail(obj, "cannot proceed with the backup as the cluster has no backup section")
            return None
        if (spec.get("pluginConfiguration") or {}).get("name") != PLUGIN:
            self._fail(obj, f"unknown plugin {(spec.get('pluginConfiguration') or {}).get('name')!r}: the sandbox "
                            f"runs {PLUGIN}")
            return None
        runner = self.runtime.clusters.get((namespace, cluster_name))
        cluster = self.client.get("postgresql.cnpg.io/v1", "Cluster", namespace, cluster_name)
        if cluster is None:
            write_status(self.client, obj, dict(status, phase="pending", error=f"cluster {cluster_name} not found"))
            return 5.0
        if archiver_plugin(cluster) is None:
            self._fail(obj, f"cluster {cluster_name} has no WAL archiver plugin {PLUGIN}")
            return None
        if runner is None or not runner.ready:
            write_status(self.client, obj, dict(status, phase="pending", error="", method="plugin"))
            return 3.0
        if self._workers.claim(namespace, name):
            self._workers.run(namespace, name, self._backup, obj, cluster, runner)
        return None

    def _fail(self, backup, message, server=None, store=None):
        status = dict(backup.get("status") or {}, phase="failed", error=message[-4000:], method="plugin")
        status.setdefault("startedAt", now())
        status["stoppedAt"] = now()
        if server:
            status["serverName"] = server
        if store is not None:
            status["destinationPath"] = store.destination_path
        write_status(self.client, backup, status)

    def _backup(self, backup, cluster, runner):
        namespace, name = backup["metadata"]["namespace"], backup["metadata"]["name"]
        plugin = archiver_plugin(cluster)
        server = plugin["serverName"]
        store_name = plugin.get("barmanObjectName", "")
        try:
            store = object_store(self.client, namespace, store_name, self.runtime.network.resolver_env(namespace))
        except StoreError as exc:
            self._fail(backup, str(exc), server)
            self._finish_cluster(cluster, False, str(exc))
            return
        started = now()
        backup = write_status(self.client, backup, {
            "phase": "running", "method": "plugin", "startedAt": started, "serverName": server,
            "destinationPath": store.destination_path, "endpointURL": store.endpoint or "",
            "instanceID": {"podName": runner.pod_name}, "online": True}) or backup
        try:
            info, listed = store.take_backup_listed(runner.instance, server, name=name)
            image, major = runner.requested_image()
            major = (runner.data_image or {}).get("majorVersion") or major
            store.record_version(server, info["backup_id"], version_num(image, major))
            current = self.client.get("postgresql.cnpg.io/v1", "Backup", namespace, name)
            if current is not None:
                write_status(self.client, current, dict(
                    current.get("status") or {}, phase="completed", backupId=info["backup_id"], backupName=name,
                    startedAt=format_time(parse(info["begin_time_iso"])) if info.get("begin_time_iso") else started,
                    stoppedAt=format_time(parse(info["end_time_iso"])) if info.get("end_time_iso") else now(),
                    beginWal=info.get("begin_wal") or "", endWal=info.get("end_wal") or "",
                    beginLSN=str(info.get("begin_xlog") or ""), endLSN=str(info.get("end_xlog") or ""),
                    majorVersion=major, error=""))
            refresh_window(self.client, namespace, store_name, server, listed)
            self._finish_cluster(cluster, True, "")
        except (StoreError, OSError, ValueError, KeyError) as exc:
            LOG.info("backup %s/%s failed: %s", namespace, name, exc)
            current = self.client.get("postgresql.cnpg.io/v1", "Backup", namespace, name)
            if current is not None:
                self._fail(current, str(exc), server, store)
            record_failed_backup(self.client, namespace, store_name, server, now())
            self._finish_cluster(cluster, False, str(exc))

    def _finish_cluster(self, cluster, ok, message):
        """The Cluster's LastBackupSucceeded condition, as the operator sets it."""
        for _attempt in range(3):
            current = self.client.get("postgresql.cnpg.io/v1", "Cluster", cluster["metadata"]["namespace"],
                                      cluster["metadata"]["name"])
            if current is None:
                return
            status = dict(current.get("status") or {})
            previous = status.get("conditions") or []
            others = [c for c in previous if c.get("type") != "LastBackupSucceeded"]
            status["conditions"] = others + [condition("LastBackupSucceeded", ok,
                                                       "LastBackupSucceeded" if ok else "LastBackupFailed",
                                                       "Backup was successful" if ok else message[-1000:],
                                                       previous=previous)]
            if ok:
                status["lastSuccessfulBackup"] = now()
            else:
                status["lastFailedBackup"] = now()
            try:
                self.client.update_status(current, status)
                return
            except ApiError as error:
                if error.code != 409:
                    raise


class ScheduledBackupController(Controller):
    name = "cnpg-scheduled-backup"
    kind = ("postgresql.cnpg.io/v1", "ScheduledBackup")

    def __init__(self, client, runtime=None):
        super().__init__(client, runtime)
        self._triggers: dict[tuple[str, str, str], str] = {}

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        spec, status = obj.get("spec") or {}, dict(obj.get("status") or {})
        uid = obj["metadata"]["uid"]
        trigger = (obj["metadata"].get("annotations") or {}).get(TRIGGER)
        triggered = trigger is not None and self._triggers.get((namespace, name, uid)) != trigger
        if triggered:
            self._triggers[(namespace, name, uid)] = trigger
        if spec.get("suspend") and not triggered:
            return None
        current = datetime.datetime.now(datetime.timezone.utc)
        try:
            first_run = not status.get("lastCheckTime")
            reference = parse(status["lastScheduleTime"]) if status.get("lastScheduleTime") else \
                parse(obj["metadata"]["creationTimestamp"])
            due = cron.next_time(spec.get("schedule", ""), reference)
        except cron.CronError as exc:
            write_status(self.client, obj, dict(status, error=str(exc)))
            return None
        run_now = triggered or (first_run and spec.get("immediate")) or (current >= due and not spec.get("suspend"))
        if run_now:
            self._create_backup(obj, current)
            status["lastScheduleTime"] = format_time(current)
            due = cron.next_time(spec.get("schedule", ""), current)
        status.update(lastCheckTime=format_time(current),
                      nextScheduleTime=format_time(due))
        status.pop("error", None)
        write_status(self.client, obj, status)
        return max(1.0, min(60.0, (due - datetime.datetime.now(datetime.timezone.utc)).total_seconds()))

    def _create_backup(self, scheduled, moment):
        spec = scheduled.get("spec") or {}
        namespace = scheduled["metadata"]["namespace"]
        cluster_name = (spec.get("cluster") or {}).get("name", "")
        meta: dict[str, Any] = {"namespace": namespace, "labels": {"cnpg.io/cluster": cluster_name,
                                                                   "cnpg.io/scheduled-backup":
                                                                   scheduled["metadata"]["name"]}}
        owner_kind = spec.get("backupOwnerReference", "none")
        if owner_kind == "self":
            meta["ownerReferences"] = [owner_ref(scheduled)]
        elif owner_kind == "cluster":
            cluster = self.client.get("postgresql.cnpg.io/v1", "Cluster", namespace, cluster_name)
            if cluster is not None:
                meta["ownerReferences"] = [owner_ref(cluster)]
        base = f"{scheduled['metadata']['name']}-{moment.strftime('%Y%m%d%H%M%S')}"
        backup_spec = {"cluster": {"name": cluster_name}, "method": spec.get("method", "barmanObjectStore")}
        for key in ("pluginConfiguration", "target", "online", "onlineConfiguration"):
            if key in spec:
                backup_spec[key] = spec[key]
        for attempt in range(5):
            meta["name"] = base if attempt == 0 else f"{base}-{attempt}"
            try:
                return self.client.create({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup",
                                           "metadata": dict(meta), "spec": backup_spec})
            except ApiError as error:
                if error.code != 409:
                    raise
                time.sleep(0.01)
        return None
