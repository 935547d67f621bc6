"""pg_recover_prepare against real barman-cloud backups of a real PostgreSQL in a real S3 API (moto server).

Each test builds its own store: a PostgreSQL 15 archiving WAL with barman-cloud-wal-archive under
`pg-cluster-v1`, base backups with barman-cloud-backup, and then runs the module through ansible-playbook.
"""

from __future__ import annotations

import datetime
import re
import time
from pathlib import Path

import pytest

from tests.support.ansible_run import run_module

MODULE = "mlops.mlflow.pg_recover_prepare"
SOURCE = "pg-cluster-v1"
WAL_SEGMENT = re.compile(r"/wals/[0-9A-F]{16}/[0-9A-F]{24}(\.partial)?(\.gz|\.bz2)?$")

VALUES = """\
# MLflow release values (production).
mlflow:
  replicas: 2   # two pods behind the Route
  image:
    tag: "3.5.0"
postgresql:
  # The live CloudNativePG cluster; its name is also its backup serverName.
  clusterName: pg-cluster-v1
  instances: 3
recovery:
  serverName: ""
  targetTime: ""
  secretName: 'mlflow-app-stable'   # keeps the app password across recoveries
backup:
  s3:
    destinationPath: s3://bucket/mlflow-pg
    packages:
      - first
      - second
"""


def utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(datetime.timezone.utc)


def db_now(pg) -> datetime.datetime:
    """The database's clock (the one commit timestamps use), as an aware UTC datetime."""
    return pg.sql("SELECT clock_timestamp()")[0][0].astimezone(datetime.timezone.utc)


def rfc3339(instant: datetime.datetime) -> str:
    return instant.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def object_store(s3_server, barman_store) -> dict:
    return {"destination_path": barman_store.destination_path, "endpoint_url": s3_server.endpoint_url,
            "access_key_id": s3_server.access_key_id, "secret_access_key": s3_server.secret_access_key,
            "region": s3_server.region}


def newest_wal_time(s3_server, barman_store, server: str) -> datetime.datetime:
    bucket, path = barman_store.destination_path[len("s3://"):].split("/", 1)
    paginator = s3_server.client().get_paginator("list_objects_v2")
    times = [item["LastModified"] for page in paginator.paginate(Bucket=bucket, Prefix=f"{path}/{server}/wals/")
             for item in page.get("Contents", []) if WAL_SEGMENT.search(item["Key"])]
    return max(times)


def write_values(folder: Path, text: str = VALUES) -> Path:
    path = folder / "mlflow-values.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def archiving_source(pg_factory, barman_store, name="source"):
    source = pg_factory(start=False, name=name).init()
    barman_store.start_archiving(source, SOURCE)
    source.sql("CREATE TABLE runs (name text, created timestamptz DEFAULT clock_timestamp())")
    return source


def prepare(args: dict, **kwargs):
    run = run_module(MODULE, args, **kwargs)
    assert run.report is not None, run.stdout + run.stderr
    return run


def assert_refused(run, *fragments):
    assert run.returncode != 0, run.result
    assert_failed_with(run.result, *fragments)


def assert_failed_with(result: dict, *fragments):
    assert result.get("failed") is True, result
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]
    assert "Traceback" not in result["msg"]


def prepare_each(args_list: list) -> list:
    """Run the module once per argument set in ONE playbook (failures ignored); return each task's result."""
    tasks = [{"name": f"case {n}", MODULE: args, "ignore_errors": True} for n, args in enumerate(args_list)]
    run = run_module("ansible.builtin.meta", "noop", extra_tasks=tasks)
    results = run.task_results()[:len(args_list)]
    assert len(results) == len(args_list), run.stdout + run.stderr
    return results


def test_window_and_chosen_backup_agree_with_barman_cloud(pg_factory, barman_store, s3_server, work_dir):
    source = archiving_source(pg_factory, barman_store)
    before_first_backup = db_now(source)
    time.sleep(1.1)
    first_id = barman_store.backup(source, SOURCE)
    source.sql("INSERT INTO runs (name) VALUES ('between backups')")
    time.sleep(1.1)
    between = db_now(source)
    time.sleep(1.1)
    second_id = barman_store.backup(source, SOURCE)
    time.sleep(1.1)  # S3 LastModified has whole seconds: keep the last WAL a second clear of the backup's end
    source.sql("INSERT INTO runs (name) VALUES ('after the second backup')")
    source.wait_archived(source.switch_wal())
    time.sleep(2.1)
    after_last_wal = db_now(source)

    listed = {b["backup_id"]: b for b in barman_store.list_backups(SOURCE)}
    assert set(listed) == {first_id, second_id} and all(b["status"] == "DONE" for b in listed.values())
    values_file = write_values(work_dir)
    store = object_store(s3_server, barman_store)

    run = prepare({"values_file": str(values_file), "object_store": store,
                   "target_time": rfc3339(between.astimezone(datetime.timezone(datetime.timedelta(hours=2))))})
    assert run.returncode == 0, run.result
    result = run.result
    assert (result["old_cluster_name"], result["new_cluster_name"]) == (SOURCE, "pg-cluster-v2")
    assert result["target_time"] == rfc3339(between)
    window = result["recovery_window"]
    assert utc(window["first_recoverability_point"]) == utc(listed[first_id]["end_time_iso"])
    assert utc(window["last_backup_end"]) == utc(listed[second_id]["end_time_iso"])
    assert utc(window["last_wal_time"]) == newest_wal_time(s3_server, barman_store, SOURCE)
    assert utc(window["last_wal_time"]) <= after_last_wal
    assert result["backup"]["id"] == first_id
    assert utc(result["backup"]["begin"]) == utc(listed[first_id]["begin_time_iso"])
    assert utc(result["backup"]["end"]) == utc(listed[first_id]["end_time_iso"])
    assert result["backup"]["begin_wal"] == listed[first_id]["begin_wal"]
    assert result["changed"] is True and result["new_values"]["postgresql"]["clusterName"] == "pg-cluster-v2"
    assert values_file.read_text(encoding="utf-8") == VALUES, "write is false: the file must not change"

    latest = prepare({"values_file": str(values_file), "object_store": store}).result
    assert latest["backup"]["id"] == second_id and latest["target_time"] is None
    # barman records the server's server_version_num in backup.info; CNPG restores only into the same major.
    major = int(source.sql("SHOW server_version_num")[0][0]) // 10000
    assert latest["backup"]["postgresql_major"] == major
    same_major = prepare({"values_file": str(values_file), "object_store": store,
                          "postgresql_image": f"ghcr.io/cloudnative-pg/postgresql:{major}.4-standard-bookworm"})
    assert same_major.returncode == 0 and not same_major.result.get("warnings"), same_major.result

    older = prepare({"values_file": str(values_file), "object_store": store, "backup_id": first_id,
                     "target_time": listed[second_id]["end_time_iso"]})
    assert older.returncode == 0, older.result
    assert older.result["backup"]["id"] == second_id
    assert any(f"will use {second_id}, not backup_id {first_id}" in w for w in older.result.get("warnings", []))

    refusals = [
        ({"target_time": rfc3339(before_first_backup)}, ["before the first recoverability point of pg-cluster-v1"]),
        ({"target_time": rfc3339(after_last_wal)}, ["after the newest archived WAL of pg-cluster-v1"]),
        ({"backup_id": "20200101T000000"}, ["backup_id 20200101T000000 does not exist", first_id, second_id]),
        ({"backup_id": second_id, "target_time": rfc3339(between)}, [f"backup_id {second_id} ended at", "after"]),
        ({"target_time": rfc3339(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))},
         ["is in the future"]),
        ({"target_time": between.strftime("%Y-%m-%dT%H:%M:%S")}, ["has no time zone", "Z"]),
        ({"postgresql_image": f"ghcr.io/cloudnative-pg/postgresql:{major + 1}.1-system-trixie"},
         [f"base backup {second_id} was taken by PostgreSQL {major}", f"runs PostgreSQL {major + 1}",
          f"Recover with a PostgreSQL {major} image"]),
    ]
    results = prepare_each([{"values_file": str(values_file), "object_store": store, **case[0]} for case in refusals])
    for result, case in zip(results, refusals):
        assert_failed_with(result, *case[1])

    missing = write_values(work_dir, VALUES.replace("clusterName: pg-cluster-v1", "clusterName: pg-cluster-x1"))
    assert_refused(prepare({"values_file": str(missing), "object_store": store}),
                   "no completed base backup for serverName pg-cluster-x1", "nothing is stored there")


def test_write_keeps_the_file_and_a_second_run_changes_nothing(pg_factory, barman_store, s3_server, work_dir):
    source = archiving_source(pg_factory, barman_store)
    barman_store.backup(source, SOURCE)
    time.sleep(1.1)
    target = rfc3339(db_now(source))
    time.sleep(1.1)
    source.sql("INSERT INTO runs (name) VALUES ('after the target')")
    source.wait_archived(source.switch_wal())
    values_file = write_values(work_dir)
    args = {"values_file": str(values_file), "object_store": object_store(s3_server, barman_store),
            "target_time": target, "write": True, "backup": True}

    checked = prepare(args, check=True, diff=True)
    assert checked.returncode == 0 and checked.result["changed"] is True, checked.result
    assert values_file.read_text(encoding="utf-8") == VALUES, "check mode must not write"
    assert checked.result["diff"]["before"]["postgresql"] == {"clusterName": SOURCE}
    assert checked.result["diff"]["after"]["recovery"] == {"serverName": SOURCE, "targetTime": target}
    assert "backup" not in checked.result["diff"]["after"], "the diff shows the managed keys only"

    first = prepare(args)
    assert first.returncode == 0 and first.result["changed"] is True, first.result
    assert first.result["changes"] == ["postgresql.clusterName", "recovery.serverName", "recovery.targetTime",
                                       "mlflow.replicas"]
    written = values_file.read_text(encoding="utf-8")
    assert written == (VALUES.replace("replicas: 2   #", "replicas: 0   #")
                       .replace("clusterName: pg-cluster-v1", "clusterName: pg-cluster-v2")
                       .replace('serverName: ""', 'serverName: "pg-cluster-v1"')
                       .replace('targetTime: ""', f'targetTime: "{target}"'))
    assert Path(first.result["backup_file"]).read_text(encoding="utf-8") == VALUES

    stat = values_file.stat()
    second = prepare(args)
    assert second.returncode == 0, second.result
    assert second.result["changed"] is False and second.result["changes"] == []
    assert second.result["already_prepared"] is True and second.result["new_cluster_started"] is False
    assert (second.result["old_cluster_name"], second.result["new_cluster_name"]) == (SOURCE, "pg-cluster-v2")
    assert "backup_file" not in second.result
    assert values_file.read_text(encoding="utf-8") == written and values_file.stat().st_mtime_ns == stat.st_mtime_ns


def test_used_folder_for_the_new_name_is_refused(pg_factory, barman_store, s3_server, work_dir):
    source = archiving_source(pg_factory, barman_store)
    barman_store.backup(source, SOURCE)
    source.wait_archived(source.switch_wal())
    stale = pg_factory(start=False, name="stale").init()
    barman_store.start_archiving(stale, "pg-cluster-v2")
    stale.wait_archived(stale.switch_wal())
    assert barman_store.check_wal_archive("pg-cluster-v2").returncode == 1  # what the new cluster would hit
    values_file = write_values(work_dir)
    store = object_store(s3_server, barman_store)

    refused = prepare({"values_file": str(values_file), "object_store": store, "write": True}, verbosity=3)
    assert_refused(refused, "new cluster pg-cluster-v2 is not empty", "Expected empty archive", "new_cluster_name")
    assert values_file.read_text(encoding="utf-8") == VALUES
    assert s3_server.secret_access_key not in refused.stdout + refused.stderr
    assert s3_server.access_key_id not in refused.stdout + refused.stderr

    other = prepare({"values_file": str(values_file), "object_store": store, "new_cluster_name": "pg-cluster-v3"})
    assert other.returncode == 0 and other.result["new_cluster_name"] == "pg-cluster-v3", other.result
    assert barman_store.check_wal_archive("pg-cluster-v3").returncode == 0


def test_rerun_after_the_recovery_started_and_a_later_recovery(pg_factory, barman_store, s3_server, work_dir):
    source = archiving_source(pg_factory, barman_store)
    backup_id = barman_store.backup(source, SOURCE)
    time.sleep(1.1)
    source.sql("INSERT INTO runs (name) VALUES ('restored')")
    source.wait_archived(source.switch_wal())
    values_file = write_values(work_dir)
    store = object_store(s3_server, barman_store)
    args = {"values_file": str(values_file), "object_store": store, "write": True}
    assert prepare(args).result["new_cluster_name"] == "pg-cluster-v2"
    prepared = values_file.read_text(encoding="utf-8")

    # What the new cluster does once Helm has applied the values: restore, promote, archive under its own name.
    restored = pg_factory(start=False, name="restored")
    barman_store.restore(SOURCE, backup_id, restored, archive_as="pg-cluster-v2")
    restored.wait_archived(restored.switch_wal())
    assert [row[0] for row in restored.sql("SELECT name FROM runs")] == ["restored"]

    rerun = prepare(args)
    assert rerun.returncode == 0, rerun.result.get("msg")
    assert rerun.result["changed"] is False and rerun.result["new_cluster_started"] is True
    assert any("has already started" in w for w in rerun.result.get("warnings", []))
    assert values_file.read_text(encoding="utf-8") == prepared

    backup_end = barman_store.list_backups(SOURCE)[0]["end_time_iso"]
    assert_refused(prepare({**args, "target_time": backup_end}), "has already started",
                   "can no longer change")
    assert_refused(prepare({**args, "source_cluster_name": "pg-cluster-v2"}),
                   "no completed base backup for serverName pg-cluster-v2")

    barman_store.backup(restored, "pg-cluster-v2")
    restored.wait_archived(restored.switch_wal())
    later = prepare({**args, "source_cluster_name": "pg-cluster-v2"})
    assert later.returncode == 0, later.result
    assert (later.result["old_cluster_name"], later.result["new_cluster_name"]) == ("pg-cluster-v2", "pg-cluster-v3")
    assert later.result["backup"]["timeline"] == 2
    text = values_file.read_text(encoding="utf-8")
    assert "clusterName: pg-cluster-v3" in text and 'serverName: "pg-cluster-v2"' in text


def test_values_dict_needs_no_file_and_no_store(work_dir):
    values = {"postgresql": {"clusterName": "pg-cluster-v9"}, "mlflow": {"replicas": 1},
              "recovery": {"serverName": "", "secretName": "keep-me"}}
    run = prepare({"values": values, "target_time": "2026-01-02T03:04:05.250+01:00"})
    assert run.returncode == 0, run.result
    assert run.result["new_values"] == {
        "postgresql": {"clusterName": "pg-cluster-v10"}, "mlflow": {"replicas": 0},
        "recovery": {"serverName": "pg-cluster-v9", "secretName": "keep-me", "targetTime": "2026-01-02T02:04:05.250Z"}}
    assert "recovery_window" not in run.result and "backup" not in run.result
    refusals = [
        ({"values": values, "write": True}, "values_file"),
        ({"values": values, "new_cluster_name": "pg-cluster-v9"}, "Expected empty archive"),
        ({"values": values, "new_cluster_name": "PG_new"}, "not a valid Kubernetes name"),
        ({"values": values, "backup_id": "20261120T000002"}, "object_store"),
        ({"values_file": str(work_dir / "missing.yaml")}, "cannot read values_file"),
        ({"values": values, "values_file": str(work_dir / "missing.yaml")}, "mutually exclusive"),
    ]
    for result, case in zip(prepare_each([case[0] for case in refusals]), refusals):
        assert_failed_with(result, case[1])


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9"])
def test_unreachable_store_fails_cleanly(work_dir, endpoint):
    run = prepare({"values_file": str(write_values(work_dir)),
                   "object_store": {"destination_path": "s3://bucket/mlflow-pg", "endpoint_url": endpoint,
                                    "access_key_id": "unreachable-key-id", "secret_access_key": "unreachable-secret"}})
    assert_refused(run, "cannot read the object store s3://bucket/mlflow-pg at http://127.0.0.1:9")
    assert "unreachable-secret" not in run.stdout + run.stderr
