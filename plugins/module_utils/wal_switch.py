# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Close a CNPG cluster's current WAL segment and wait until the archiver has it: the work of the wal_switch module;
and find the marker it wrote in a restored copy: the work of wal_marker_info.

CNPG archives a segment when it is full or after archive_timeout (5 minutes): without a switch the newest minutes of
writes cannot be recovered yet. psql runs as the superuser in the primary's `postgres` container, over pods/exec, as
`kubectl cnpg psql` does. One module call does what took four tasks (read the cluster, optionally write a marker row,
switch, then poll the archiver), each exec through pod_exec.py (1.5 s less than a kubernetes.core.k8s_exec task):
a recovery to the latest state does this inside its outage. The archiver is polled every POLL seconds in-process.
"""

from __future__ import annotations

import time

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.pod_exec import core_api, run

POLL = 0.25  # seconds between two reads of pg_stat_archiver
# PostgreSQL's archiver tries a segment three times in a row (NUM_ARCHIVE_RETRIES in src/backend/postmaster/pgarch.c)
# before it sleeps: three more failures since the switch mean the store refuses now.
ARCHIVER_RETRIES = 3
HIBERNATION = "cnpg.io/hibernation"
SWITCH = "SELECT pg_walfile_name(pg_switch_wal()), (SELECT failed_count FROM pg_stat_archiver)"
# Within one timeline segment names sort by position; a `.done` status file says the archiver took it.
ARCHIVER_STATE = ("SELECT CASE WHEN coalesce(last_archived_wal, '') >= '{segment}' OR EXISTS (SELECT 1 FROM "
                  "pg_ls_archive_statusdir() WHERE name = '{segment}.done') THEN 'archived' WHEN failed_count >= "
                  "{failures} THEN 'failing' ELSE 'waiting' END, coalesce(last_failed_wal, '-'), "
                  "coalesce((last_failed_time AT TIME ZONE 'UTC')::text || ' UTC', '-') FROM pg_stat_archiver")
MARKER_TABLE_EXISTS = "SELECT to_regclass('{table}') IS NOT NULL"
MARKER_WRITTEN_AT = ("SELECT coalesce((SELECT to_char(written_at AT TIME ZONE 'UTC', "
                     "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM {table} WHERE marker = '{marker}'), '')")
MARKER = ("CREATE TABLE IF NOT EXISTS {table} (marker text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT "
          "clock_timestamp()); INSERT INTO {table} (marker) VALUES ('{marker}') ON CONFLICT DO NOTHING")


def running_primary(cluster: dict) -> str:
    """The primary's pod when the cluster is Ready and not hibernated, else ''."""
    status = cluster.get("status") or {}
    annotations = (cluster.get("metadata") or {}).get("annotations") or {}
    ready = any(condition.get("type") == "Ready" and condition.get("status") == "True"
                for condition in status.get("conditions") or [])
    if not ready or annotations.get(HIBERNATION, "off") == "on":
        return ""
    return status.get("currentPrimary") or ""


def _identifier(value: str, what: str) -> str:
    if not value.replace("_", "").isalnum() or not value.isascii():
        raise CollectionError("%s %r: only letters, digits and _ are accepted" % (what, value))
    return value


def psql(api, namespace: str, pod: str, sql: str, database: str = "postgres") -> list[str]:
    """The fields of the first row `sql` returns, run by psql as the superuser in the pod's postgres container."""
    command = ["psql", "-X", "-tA", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql]
    return run(api, namespace, pod, "postgres", command).strip().split("|")


def switch(module) -> dict:
    """Switch the running primary's WAL and wait for the archiver; `switched` false with the `reason` otherwise."""
    params = module.params
    namespace, name = params["namespace"], params["cluster"]
    table = _identifier(params["marker_table"], "marker_table")
    marker = _identifier(params["marker"], "marker") if params["marker"] else ""
    cluster = module.read("Cluster", "postgresql.cnpg.io/v1", name, namespace)  # {}: lost, the archive is all there is
    primary = running_primary(cluster)
    result = {"changed": False, "switched": False, "segment": "", "marker": "", "primary": primary}
    if not primary:
        return dict(result, reason="the primary of %s is not running" % name if cluster
                    else "cluster %s does not exist" % name)
    if module.check_mode:
        return dict(result, reason="check mode changes nothing")
    api = core_api(module)
    if marker:
        psql(api, namespace, primary, MARKER.format(table=table, marker=marker))
        result["marker"] = marker
    segment, failures = psql(api, namespace, primary, SWITCH)
    result.update(changed=True, segment=segment)
    query = ARCHIVER_STATE.format(segment=segment, failures=int(failures) + ARCHIVER_RETRIES)
    deadline = time.monotonic() + params["archive_timeout"]
    while True:
        state, last_failed, failed_at = psql(api, namespace, primary, query)
        if state == "archived":
            return dict(result, switched=True, reason="")
        if state == "failing":
            return dict(result, reason=(
                "WAL segment %s is not archived: the archiver failed three times since the switch (last failed %s at"
                " %s). Is the object store reachable from the cluster? kubectl -n %s get cluster %s shows the"
                " ContinuousArchiving condition" % (segment, last_failed, failed_at, namespace, name)))
        if time.monotonic() >= deadline:
            return dict(result, reason=(
                "WAL segment %s was not archived within %s s (is WAL archiving failing? kubectl -n %s get cluster %s"
                " shows the ContinuousArchiving condition)" % (segment, params["archive_timeout"], namespace, name)))
        time.sleep(POLL)


def find_marker(module) -> dict:
    """Whether the running primary holds the marker row (the copy replayed WAL up to the switch that followed it).

    A missing table is an answer, not an error: the table is created with the first marker, after the base backup
    the copy was restored from, so a copy that did not replay that far has no table at all."""
    params = module.params
    namespace, name = params["namespace"], params["cluster"]
    table = _identifier(params["marker_table"], "marker_table")
    marker = _identifier(params["marker"], "marker")
    cluster = module.read("Cluster", "postgresql.cnpg.io/v1", name, namespace)
    primary = running_primary(cluster)
    result = {"changed": False, "found": False, "written_at": "", "primary": primary, "reason": ""}
    if not primary:
        return dict(result, reason="the primary of %s is not running" % name if cluster
                    else "cluster %s does not exist" % name)
    api = core_api(module)
    if psql(api, namespace, primary, MARKER_TABLE_EXISTS.format(table=table)) != ["t"]:
        return dict(result, reason="no table %s: the copy holds no marker at all" % table)
    written_at = psql(api, namespace, primary, MARKER_WRITTEN_AT.format(table=table, marker=marker))[0]
    if not written_at:
        return dict(result, reason="marker %s is not in %s" % (marker, table))
    return dict(result, found=True, written_at=written_at)
