"""What a --check run must leave as it found it, and what no run may show, seen through public APIs only: the
namespaces' objects (the Kubernetes API), the databases (psql in the primary, through pods/exec), the object store
(the inventory's credentials), and every output a run leaves."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlsplit

from tests.live.installation import Installation
from tests.support.ansible_run import PlaybookRun

# Shorter forms are skipped: a value of a few characters (e.g. a base64 of a short word) would match ordinary output
# by chance.
SECRET_MIN_LENGTH = 8
SCHEDULED_LABEL = "cnpg.io/scheduled-backup"  # CNPG labels the Backups a ScheduledBackup makes
# Every table's row count, and the alembic revision rows, of one database, as one JSON document.
DATABASE_QUERY = """
SELECT coalesce(json_object_agg(t.name, t.content ORDER BY t.name), '{}') FROM (
  SELECT table_name AS name,
         CASE WHEN table_name LIKE 'alembic%%'
              THEN (xpath('/row/v/text()', query_to_xml(format(
                    'SELECT string_agg(version_num, '','' ORDER BY version_num) AS v FROM %I', table_name),
                    false, true, '')))[1]::text
              ELSE (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', table_name),
                    false, true, '')))[1]::text END AS content
  FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE') t
""".replace("%%", "%")


def database_state(installation: Installation) -> dict[str, Any]:
    """Alembic revisions and the row count of every table of every database of the release's cluster (none before
    the first deploy)."""
    try:
        primary = installation.primary()
    except LookupError:
        return {}
    databases = installation.psql("SELECT datname FROM pg_database WHERE NOT datistemplate AND "
                                  "datname <> 'postgres' ORDER BY 1", primary=primary).split()
    return {name: json.loads(installation.psql(DATABASE_QUERY, database=name, primary=primary))
            for name in databases}


def object_store_state(installation: Installation) -> dict[str, str]:
    """Every object under the installation's backup archive and artifact prefix, with its ETag (an overwrite
    shows too)."""
    values = installation.facts["values"]
    s3 = installation.s3()
    listing = {}
    for url in (values["backup"]["s3"]["destinationPath"], values["mlflow"]["artifacts"]["destination"]):
        location = urlsplit(url)
        prefix = location.path.strip("/") + "/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.netloc, Prefix=prefix):
            for item in page.get("Contents", []):
                listing[f"{location.netloc}/{item['Key']}"] = item["ETag"]
    return listing


def state(installation: Installation) -> dict[str, Any]:
    return {"objects": installation.admin.snapshot(installation.namespace, installation.drill_namespace),
            "database": database_state(installation), "object store": object_store_state(installation)}


def scheduled_backups(installation: Installation) -> tuple[set[str], set[str]]:
    """Names and backup ids of the Backups the clusters' ScheduledBackups made on their own schedule."""
    items = installation.admin.list("postgresql.cnpg.io/v1", "Backup", installation.namespace)
    ours = [item for item in items if SCHEDULED_LABEL in (item["metadata"].get("labels") or {})]
    return ({item["metadata"]["name"] for item in ours},
            {(item.get("status") or {}).get("backupId") for item in ours} - {None})


def written_by_the_cluster_itself(key: str, before: dict[str, str], backup_ids: set[str]) -> bool:
    """What PostgreSQL and its ScheduledBackup add on their own while a check run goes on, and nothing else:
    WAL segments archived (at least every archive_timeout, CNPG's 5 minutes) into a server's wals/ folder that
    already existed, and the base backup of a Backup labelled as made by a ScheduledBackup. A new server folder, a
    base backup without that label or any other object would be a playbook's doing."""
    if "/wals/" in key:
        server = key.split("/wals/")[0]
        return any(known.startswith(server + "/wals/") for known in before)
    return any(f"/base/{backup_id}/" in key for backup_id in backup_ids)


def assert_inert(label: str, before: dict[str, Any], after: dict[str, Any],
                 scheduled: tuple[set[str], set[str]]) -> None:
    """Only what differs is named (object keys, table names, object keys), never the values."""
    names, backup_ids = scheduled
    objects_before, objects_after = before["objects"], after["objects"]
    changed = sorted(str(key) for key in objects_before.keys() | objects_after.keys()
                     if objects_before.get(key) != objects_after.get(key)
                     and not (key[0] == "Backup" and key[2] in names and key not in objects_before))
    assert not changed, f"{label} changed cluster objects: {changed}"
    differing = sorted(f"{database}.{table}" for database in before["database"].keys() | after["database"].keys()
                       for table in (before["database"].get(database) or {}).keys()
                       | (after["database"].get(database) or {}).keys()
                       if (before["database"].get(database) or {}).get(table)
                       != (after["database"].get(database) or {}).get(table))
    assert not differing and before["database"].keys() == after["database"].keys(), \
        f"{label} changed the databases: {differing}"
    store_before, store_after = before["object store"], after["object store"]
    added = [key for key in store_after if key not in store_before
             and not written_by_the_cluster_itself(key, store_before, backup_ids)]
    changed = [key for key in store_before if store_after.get(key) != store_before[key]]
    assert not added and not changed, f"{label} wrote to the object store: added {added}, changed or removed {changed}"


def secret_forms(value: str) -> dict[str, str]:
    """A secret as it could leak, by kind: plain, URL-encoded, base64 (forms shorter than SECRET_MIN_LENGTH
    skipped)."""
    forms = {"plain": value, "URL-encoded": quote(value, safe=""), "base64": base64.b64encode(value.encode()).decode()}
    return {kind: form for kind, form in forms.items() if len(form) >= SECRET_MIN_LENGTH}


def strings(document: Any) -> list[str]:
    """Every key and string value of a decoded JSON document (a leak JSON-escaped in the text is found here)."""
    if isinstance(document, dict):
        return [text for key, value in document.items() for text in [str(key), *strings(value)]]
    if isinstance(document, list):
        return [text for value in document for text in strings(value)]
    return [document] if isinstance(document, str) else []


def run_texts(run: PlaybookRun) -> list[str]:
    """Everything a run left to read: its output, and every string of its JSON report."""
    return [run.stdout, run.stderr, *strings(run.report or {})]
