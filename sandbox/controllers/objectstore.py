"""The Barman Cloud Plugin's ObjectStore status: `serverRecoveryWindow[<serverName>]` with the first
recoverability point (the end of the oldest completed base backup) and the last successful / failed backup times,
read from the store itself with barman-cloud-backup-list."""

from __future__ import annotations

import logging
from typing import Any

from ..runtime.barman import StoreError, object_store
from ..timestamps import format_time, parse
from .base import Controller
from .client import ApiError

LOG = logging.getLogger(__name__)


def recovery_window(backups: list[dict[str, Any]]) -> dict[str, str]:
    done = sorted((b for b in backups if b.get("status") == "DONE" and b.get("end_time_iso")),
                  key=lambda b: b["end_time_iso"])
    failed = sorted((b for b in backups if b.get("status") == "FAILED" and b.get("end_time_iso")),
                    key=lambda b: b["end_time_iso"])
    window = {}
    if done:
        window["firstRecoverabilityPoint"] = format_time(parse(done[0]["end_time_iso"]))
        window["lastSuccessfulBackupTime"] = format_time(parse(done[-1]["end_time_iso"]))
    if failed:
        window["lastFailedBackupTime"] = format_time(parse(failed[-1]["end_time_iso"]))
    return window


def refresh_window(client: Any, runtime: Any, namespace: str, store_name: str, server: str,
                   failed_at: str | None = None, backups: list[dict[str, Any]] | None = None) -> None:
    """Recompute one server's recovery window and write it into the ObjectStore's status; `backups`: the server's
    catalog as just listed (after a backup), else it is listed here."""
    try:
        if backups is None:
            store = object_store(client, namespace, store_name, runtime.network.resolver_env(namespace))
            backups = store.list_backups(server)
        window = recovery_window(backups)
    except StoreError as exc:
        LOG.info("ObjectStore %s/%s: %s", namespace, store_name, exc)
        return
    for _attempt in range(3):
        current = client.get("barmancloud.cnpg.io/v1", "ObjectStore", namespace, store_name)
        if current is None:
            return
        status = dict(current.get("status") or {})
        windows = dict(status.get("serverRecoveryWindow") or {})
        previous = windows.get(server) or {}
        if failed_at or previous.get("lastFailedBackupTime"):
            window.setdefault("lastFailedBackupTime", failed_at or previous["lastFailedBackupTime"])
        windows[server] = window
        status["serverRecoveryWindow"] = windows
        if status == current.get("status"):
            return
        try:
            client.update_status(current, status)
            return
        except ApiError as error:
            if error.code != 409:
                raise


class ObjectStoreController(Controller):
    """Fills the window of every server whose base backups are in the store when the ObjectStore changes."""

    name = "barman-cloud-plugin"
    kind = ("barmancloud.cnpg.io/v1", "ObjectStore")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        servers = set((obj.get("status") or {}).get("serverRecoveryWindow") or {})
        for cluster in self.client.list("postgresql.cnpg.io/v1", "Cluster", namespace):
            for plugin in (cluster.get("spec") or {}).get("plugins") or []:
                parameters = plugin.get("parameters") or {}
                if parameters.get("barmanObjectName") == name:
                    servers.add(parameters.get("serverName") or cluster["metadata"]["name"])
        for server in sorted(servers):
            refresh_window(self.client, self.runtime, namespace, name, server)
        return None
