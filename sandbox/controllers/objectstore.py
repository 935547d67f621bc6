"""The Barman Cloud Plugin's ObjectStore status: `serverRecoveryWindow[<serverName>]` with the first
recoverability point (the end of the oldest completed base backup) and the last successful / failed backup times.

As in the plugin (internal/cnpgi/instance), the window is written by the sidecar in a cluster's primary pod, never
by a controller watching the ObjectStore: after each base backup, from the catalog listed right after it
(backup.go); after a failed one, only `lastFailedBackupTime` (setLastFailedBackupTime, no listing); and by the
catalog maintenance (retention.go, `CatalogMaintenanceRunnable`), which lists the server's catalog when the sidecar
starts and then every `spec.instanceSidecarConfiguration.retentionPolicyIntervalSeconds` (1800 by default; 5
minutes after a cycle that failed). A server whose cluster no longer runs keeps the window last written for it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..runtime.barman import StoreError
from ..timestamps import format_time, parse
from .client import ApiError

LOG = logging.getLogger(__name__)

API = "barmancloud.cnpg.io/v1"
# The CRD's default for retentionPolicyIntervalSeconds (api/v1/objectstore_types.go) and the plugin's
# defaultRetentionPolicyInterval after a failed cycle (retention.go).
DEFAULT_INTERVAL_SECONDS = 1800
RETRY_SECONDS = 300


def recovery_window(backups: list[dict[str, Any]]) -> dict[str, str]:
    done = sorted((b for b in backups if b.get("status") == "DONE" and b.get("end_time_iso")),
                  key=lambda b: b["end_time_iso"])
    window = {}
    if done:
        window["firstRecoverabilityPoint"] = format_time(parse(done[0]["end_time_iso"]))
        window["lastSuccessfulBackupTime"] = format_time(parse(done[-1]["end_time_iso"]))
    return window


def refresh_window(client: Any, namespace: str, store_name: str, server: str, backups: list[dict[str, Any]]) -> None:
    """updateRecoveryWindow: the server's window from its catalog as just listed (its last failure kept)."""
    window = recovery_window(backups)
    _write(client, namespace, store_name, server, lambda previous: dict(
        window, **({"lastFailedBackupTime": previous["lastFailedBackupTime"]}
                   if previous.get("lastFailedBackupTime") else {})))


def record_failed_backup(client: Any, namespace: str, store_name: str, server: str, failed_at: str) -> None:
    """setLastFailedBackupTime: a failed backup sets that time only; the catalog is not listed."""
    _write(client, namespace, store_name, server, lambda previous: dict(previous, lastFailedBackupTime=failed_at))


def _write(client: Any, namespace: str, store_name: str, server: str, make) -> None:
    for _attempt in range(3):  # retry.RetryOnConflict
        current = client.get(API, "ObjectStore", namespace, store_name)
        if current is None:
            return
        status = dict(current.get("status") or {})
        windows = dict(status.get("serverRecoveryWindow") or {})
        windows[server] = make(dict(windows.get(server) or {}))
        status["serverRecoveryWindow"] = windows
        if status == current.get("status"):
            return
        try:
            client.update_status(current, status)
            return
        except ApiError as error:
            if error.code != 409:
                raise


class CatalogMaintenance:
    """The catalog maintenance of the sidecar in one cluster's primary pod: a cycle when the sidecar starts (a new
    primary pod), then one every interval. (The retention policy's deletions are not emulated: no flow here keeps
    backups long enough for a policy to remove one.)"""

    def __init__(self, client: Any, namespace: str):
        self.client = client
        self.namespace = namespace
        self.pod_uid: str | None = None
        self.next_cycle = 0.0

    def cycle_if_due(self, pod_uid: str | None, store: Any, store_name: str, server: str) -> None:
        if pod_uid == self.pod_uid and time.monotonic() < self.next_cycle:
            return
        self.pod_uid = pod_uid
        self.next_cycle = time.monotonic() + RETRY_SECONDS  # a cycle that fails in any way runs again after this
        self.next_cycle = time.monotonic() + self._cycle(store, store_name, server)

    def _cycle(self, store: Any, store_name: str, server: str) -> float:
        current = self.client.get(API, "ObjectStore", self.namespace, store_name)
        if current is None:
            return RETRY_SECONDS
        try:
            backups = store.list_backups(server)
        except StoreError as exc:
            LOG.info("ObjectStore %s/%s: catalog maintenance of %s: %s", self.namespace, store_name, server, exc)
            return RETRY_SECONDS
        refresh_window(self.client, self.namespace, store_name, server, backups)
        sidecar = (current.get("spec") or {}).get("instanceSidecarConfiguration") or {}
        return float(sidecar.get("retentionPolicyIntervalSeconds") or DEFAULT_INTERVAL_SECONDS)
