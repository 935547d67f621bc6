# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The barman-cloud backup catalog of one serverName in S3, and what a point-in-time recovery can use from it.

The store is read by `backup_catalog_scan.scan_server` (on the control node, or in a Job inside the cluster); this
file turns its summary into a ServerCatalog and holds the rules.

The rules follow the plugin's catalog (cloudnative-pg/barman-cloud, pkg/catalog): only completed backups count;
the first recoverability point is the END time of the oldest completed backup; the base backup a recovery uses
is the newest completed one whose end time is not after the target (the newest overall without a target).
WAL objects carry no commit times, so the end of the window is the S3 LastModified time of the newest archived
segment: an upper bound of what was archived, used to refuse a target that no archived WAL can reach.
"""

from __future__ import annotations

import re

from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog_scan import scan_server
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.postgres_image import image_major, version_num_major
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import format_utc, parse_timestamp

BACKUP_DONE = "DONE"


class CatalogError(CollectionError, ValueError):
    """A recovery the backup catalog cannot serve, with what to do instead."""


class BackupInfo:
    """The fields of a barman backup.info that matter for a recovery."""

    __slots__ = ("backup_id", "status", "begin_time", "end_time", "timeline", "system_id", "begin_wal", "end_wal",
                 "version", "cluster_size")

    def __init__(self, backup_id, status, begin_time=None, end_time=None, timeline=None, system_id=None,
                 begin_wal=None, end_wal=None, version=None, cluster_size=None) -> None:
        self.backup_id = backup_id
        self.status = status
        self.begin_time = begin_time
        self.end_time = end_time
        self.timeline = timeline
        self.system_id = system_id
        self.begin_wal = begin_wal
        self.end_wal = end_wal
        self.version = version  # the server's server_version_num when the backup was taken
        # sum(pg_tablespace_size()) when the backup started (barman's BackupStrategy._pg_get_metadata): about what a
        # restore writes into PGDATA, what its progress is measured against
        self.cluster_size = cluster_size

    @property
    def postgresql_major(self) -> int | None:
        return version_num_major(self.version)

    @property
    def done(self) -> bool:
        return self.status == BACKUP_DONE and self.begin_time is not None and self.end_time is not None

    def as_result(self) -> dict:
        return {
            "id": self.backup_id,
            "begin": format_utc(self.begin_time) if self.begin_time else None,
            "end": format_utc(self.end_time) if self.end_time else None,
            "timeline": self.timeline,
            "begin_wal": self.begin_wal,
            "end_wal": self.end_wal,
            "postgresql_major": self.postgresql_major,
            "cluster_size": self.cluster_size,
        }

    def __repr__(self) -> str:
        return "BackupInfo(%s, %s)" % (self.backup_id, self.status)


def parse_backup_info(text: str, backup_id: str | None = None) -> BackupInfo:
    """Parse backup.info (`key=value` lines, `None` for unset) as barman writes it."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            fields[key.strip()] = None if value.strip() == "None" else value.strip()

    def timestamp(name):
        if not fields.get(name):
            return None
        try:
            return parse_timestamp(fields[name])
        except ValueError:
            raise CatalogError("backup.info of %s has an unreadable %s: %r" % (
                backup_id or fields.get("backup_id"), name, fields[name])) from None

    def number(name):
        value = fields.get(name)
        return int(value) if value and value.isdigit() else None

    return BackupInfo(
        backup_id=fields.get("backup_id") or backup_id,
        status=fields.get("status"),
        begin_time=timestamp("begin_time"),
        end_time=timestamp("end_time"),
        timeline=number("timeline"),
        system_id=fields.get("systemid"),
        begin_wal=fields.get("begin_wal"),
        end_wal=fields.get("end_wal"),
        version=number("version"),
        cluster_size=number("cluster_size"),
    )


class ServerCatalog:
    """Everything stored under `<destinationPath>/<serverName>/`: its backups, and of its WAL the count, the newest
    archive time and (for a folder without backups) the system identifier of the cluster that archived there."""

    def __init__(self, server_name: str, location: str, backups=None, unreadable=None, wal_count: int = 0,
                 last_wal_time=None, wal_system_id: str | None = None, object_count: int = 0) -> None:
        self.server_name = server_name
        self.location = location
        self.backups = list(backups or [])
        self.unreadable = list(unreadable or [])  # (backup id, reason)
        self.wal_count = wal_count
        self.last_wal_time = last_wal_time
        self.wal_system_id = wal_system_id
        self.object_count = object_count

    @property
    def done_backups(self) -> list:
        """Completed backups, oldest first (by begin, then end time, as the plugin sorts them)."""
        return sorted((b for b in self.backups if b.done), key=lambda b: (b.begin_time, b.end_time))

    @property
    def system_ids(self) -> set:
        return {b.system_id for b in self.backups if b.system_id}

    @property
    def is_empty(self) -> bool:
        return self.object_count == 0

    def describe(self) -> str:
        return "%d object(s): %d base backup(s), %d WAL segment(s)" % (
            self.object_count, len(self.backups) + len(self.unreadable), self.wal_count)


def recovery_window(catalog: ServerCatalog) -> dict:
    """first_recoverability_point, last_backup_end, last_wal_time as aware datetimes (None when unknown)."""
    done = catalog.done_backups
    return {
        "first_recoverability_point": done[0].end_time if done else None,
        "last_backup_end": max(b.end_time for b in done) if done else None,
        "last_wal_time": catalog.last_wal_time,
    }


def window_as_result(window: dict) -> dict:
    return {key: format_utc(value) if value is not None else None for key, value in window.items()}


def _backup_list(backups) -> str:
    return ", ".join("%s (end %s)" % (b.backup_id, format_utc(b.end_time)) for b in backups) or "none"


def choose_backup(catalog: ServerCatalog, target=None, backup_id: str | None = None):
    """The base backup recovery will use, and warnings; `target` is an aware datetime or None (latest).

    The Barman Cloud Plugin picks, in its catalog sorted by begin time, the newest completed backup whose end is
    not after the target (cloudnative-pg/barman-cloud, pkg/catalog/catalog.go, findClosestBackupFromTargetTime);
    the sandbox applies the same rule. A `backup_id` is checked (exists, completed, ends at or before the target)
    and reported when the recovery will start elsewhere.
    """
    done = catalog.done_backups
    usable = [b for b in done if target is None or b.end_time <= target]
    warnings = []
    if backup_id is not None:
        named = [b for b in catalog.backups if b.backup_id == backup_id]
        if not named:
            raise CatalogError(
                "backup_id %s does not exist for serverName %s in %s. Completed backups: %s. Use one of them, or "
                "leave backup_id out to let the recovery pick the newest one before the target."
                % (backup_id, catalog.server_name, catalog.location, _backup_list(done)))
        if not named[0].done:
            raise CatalogError(
                "backup_id %s of serverName %s has status %s, not DONE: a recovery cannot start from it. Completed "
                "backups: %s." % (backup_id, catalog.server_name, named[0].status, _backup_list(done)))
        if target is not None and named[0].end_time > target:
            raise CatalogError(
                "backup_id %s ended at %s, after target_time %s: a recovery cannot start from a backup that ends "
                "after its target. Use a backup that ended by then (%s), or a later target_time."
                % (backup_id, format_utc(named[0].end_time), format_utc(target), _backup_list(usable)))
    if not usable:
        return None, warnings
    chosen = usable[-1]
    if backup_id is not None and chosen.backup_id != backup_id:
        warnings.append(
            "CloudNativePG starts a recovery from the newest completed backup that ends at or before the target, so it "
            "will use %s, not backup_id %s; both reach the same target (%s replays less WAL)."
            % (chosen.backup_id, backup_id, chosen.backup_id))
    return chosen, warnings


def check_source(catalog: ServerCatalog, target=None, backup_id: str | None = None):
    """Refuse a recovery the source's catalog cannot serve; return (window, backup, warnings).

    `target` is an aware datetime (None: the latest archived WAL).
    """
    done = catalog.done_backups
    if not done:
        found = "nothing is stored there" if catalog.is_empty else catalog.describe()
        not_done = ["%s (%s)" % (b.backup_id, b.status) for b in catalog.backups if not b.done]
        not_done += ["%s (unreadable backup.info: %s)" % item for item in catalog.unreadable]
        raise CatalogError(
            "there is no completed base backup for serverName %s in %s (%s%s). Check that object_store."
            "destination_path and the cluster name are those of the running cluster, or take a base backup first "
            "(a Backup with method: plugin) and wait for it to complete."
            % (catalog.server_name, catalog.location, found,
               "; not usable: " + ", ".join(not_done) if not_done else ""))
    window = recovery_window(catalog)
    if window["last_wal_time"] is None:
        raise CatalogError(
            "serverName %s has base backups but no archived WAL in %swals/: a recovery needs the WAL from its base "
            "backup onwards. Check that WAL archiving works (the cluster's ContinuousArchiving condition)."
            % (catalog.server_name, catalog.location))
    if target is not None:
        first = window["first_recoverability_point"]
        if target < first:
            raise CatalogError(
                "target_time %s is before the first recoverability point of %s, %s (the end of its oldest completed "
                "base backup %s): no backup can be restored to that time. Choose a time at or after %s."
                % (format_utc(target), catalog.server_name, format_utc(first), done[0].backup_id, format_utc(first)))
        last = window["last_wal_time"]
        if target > last:
            raise CatalogError(
                "target_time %s is after the newest archived WAL of %s (archived at %s): the recovery would run out "
                "of WAL before the target and fail. Choose a time at or before %s, or force a WAL switch "
                "(SELECT pg_switch_wal()) and wait for it to be archived, or leave target_time out to recover to "
                "the latest archived WAL." % (format_utc(target), catalog.server_name, format_utc(last),
                                              format_utc(last)))
    backup, warnings = choose_backup(catalog, target, backup_id)
    return window, backup, warnings


def check_major(backup: BackupInfo, image: str) -> list:
    """Refuse a recovery into an image of another PostgreSQL major than the backup's; return warnings when either
    major is unknown. CloudNativePG restores only into the same major: the new cluster would never become ready."""
    backup_major, major = backup.postgresql_major, image_major(image)
    if backup_major is None or major is None:
        unknown = "the image %s names no PostgreSQL version in its tag" % image if major is None else \
            "backup.info of %s records no server version" % backup.backup_id
        return ["cannot check that the new cluster runs the backup's PostgreSQL major: %s. CloudNativePG restores a "
                "backup only into the same major." % unknown]
    if backup_major != major:
        raise CatalogError(
            "base backup %s was taken by PostgreSQL %s, and the new cluster's image %s runs PostgreSQL %s: "
            "CloudNativePG restores a backup only into the same major, so the new cluster would never become ready. "
            "Recover with a PostgreSQL %s image (postgresql.imageName), then upgrade the major deliberately once the "
            "data is back (docs/chart.md, \"PostgreSQL image and major\")."
            % (backup.backup_id, backup_major, image, major, backup_major))
    return []


def check_new_folder(new_catalog: ServerCatalog, source_catalog: ServerCatalog, already_prepared: bool) -> bool:
    """Refuse a new serverName whose folder is not empty; return True when it holds WAL of this very recovery.

    A new cluster checks that its archive folder is empty before archiving ("Expected empty archive"). The one
    exception: values already prepared for this recovery whose new cluster has started archiving, recognised by
    the PostgreSQL system identifier (a restored cluster keeps the source's), read from its oldest WAL segment when
    the folder has no backup.info yet.
    """
    if new_catalog.is_empty:
        return False
    new_ids = set(new_catalog.system_ids)
    if not new_ids and new_catalog.wal_system_id:
        new_ids.add(new_catalog.wal_system_id)
    source_ids = source_catalog.system_ids
    if already_prepared and new_ids and source_ids and new_ids <= source_ids:
        return True
    lineage = ""
    if already_prepared:
        lineage = " It does not hold WAL of a cluster restored from %s (system identifier %s, found %s), so it is " \
                  "not this recovery's own archive." % (
                      source_catalog.server_name, ", ".join(sorted(source_ids)) or "unknown",
                      ", ".join(sorted(new_ids)) or "none")
    raise CatalogError(
        "the backup folder of the new cluster %s is not empty (%s holds %s): a cluster with that name would stop at "
        "\"Expected empty archive\".%s Choose a name never used in this object store (new_cluster_name), or remove "
        "that folder if nothing in it is needed." % (new_catalog.server_name, new_catalog.location,
                                                     new_catalog.describe(), lineage))


def split_destination(destination_path: str):
    """(bucket, key prefix ending in '/' or empty) of `s3://bucket[/path]`."""
    match = re.match(r"^s3://(?P<bucket>[^/]+)/?(?P<path>.*)$", destination_path or "")
    if not match:
        raise CatalogError(
            "object_store.destination_path %r is not an s3:// URL: give the ObjectStore's destinationPath, e.g. "
            "s3://mlflow-backups/mlflow-pg." % destination_path)
    path = match.group("path").strip("/")
    return match.group("bucket"), (path + "/" if path else "")


def catalog_from_scan(scan: dict) -> ServerCatalog:
    """A ServerCatalog from backup_catalog_scan.scan_server's summary (made here or by the in-cluster Job)."""
    backups, unreadable = [], []
    for backup_id, text in scan["backup_infos"]:
        try:
            backups.append(parse_backup_info(text, backup_id))
        except CatalogError as exc:
            unreadable.append((backup_id, str(exc)))
    last_wal_time = parse_timestamp(scan["last_wal_time"]) if scan.get("last_wal_time") else None
    return ServerCatalog(scan["server_name"], scan["location"], backups, unreadable, scan["wal_count"],
                         last_wal_time, scan.get("wal_system_id"), scan["object_count"])


def read_server_catalog(client, destination_path: str, server_name: str) -> ServerCatalog:
    """Read `<destination>/<server>/` with an S3 client (boto3) on this machine."""
    bucket, prefix = split_destination(destination_path)
    return catalog_from_scan(scan_server(client, bucket, prefix, server_name))
