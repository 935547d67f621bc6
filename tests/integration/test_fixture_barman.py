"""barman-cloud against the real S3 server: archive, base backup, list and point-in-time restore."""

import time

from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog import parse_backup_info


def _utc_now(pg) -> str:
    return pg.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00')")[0][0]


def test_archive_backup_and_point_in_time_restore(pg_factory, barman_store, s3_server):
    source = pg_factory(start=False, name="source").init()
    barman_store.start_archiving(source, "pg-cluster-v1")
    source.sql("CREATE TABLE runs (name text, created timestamptz DEFAULT clock_timestamp())")
    source.sql("INSERT INTO runs (name) VALUES ('before-backup')")
    backup_id = barman_store.backup(source, "pg-cluster-v1")

    source.sql("INSERT INTO runs (name) VALUES ('before-target')")
    time.sleep(1.1)
    target_time = _utc_now(source)
    time.sleep(1.1)
    source.sql("INSERT INTO runs (name) VALUES ('after-target')")
    source.wait_archived(source.switch_wal())

    backups = barman_store.list_backups("pg-cluster-v1")
    assert [b["backup_id"] for b in backups] == [backup_id]
    assert backups[0]["status"] == "DONE"
    bucket = barman_store.destination_path.split("/")[2]
    keys = s3_server.list_keys(bucket, "mlflow-pg/pg-cluster-v1/")
    assert f"mlflow-pg/pg-cluster-v1/base/{backup_id}/backup.info" in keys
    assert any("/wals/" in key for key in keys)
    # What a restore's progress is measured against: barman-cloud-backup records the cluster's size when the backup
    # started (sum(pg_tablespace_size()), barman's BackupStrategy._pg_get_metadata).
    info = parse_backup_info(barman_store._backup_info("pg-cluster-v1", backup_id), backup_id)  # noqa: SLF001
    data_size = int(source.sql("SELECT sum(pg_tablespace_size(oid)) FROM pg_tablespace")[0][0])
    assert info.cluster_size and abs(info.cluster_size - data_size) < data_size * 0.2, (info.cluster_size, data_size)

    restored = pg_factory(start=False, name="restored")
    barman_store.restore("pg-cluster-v1", backup_id, restored, target_time=target_time)
    names = [row[0] for row in restored.sql("SELECT name FROM runs ORDER BY created")]
    assert names == ["before-backup", "before-target"]


def test_check_wal_archive_tells_empty_from_used(pg_factory, barman_store):
    assert barman_store.check_wal_archive("pg-cluster-v2").returncode == 0
    source = pg_factory(start=False).init()
    barman_store.start_archiving(source, "pg-cluster-v2")
    source.wait_archived(source.switch_wal())
    result = barman_store.check_wal_archive("pg-cluster-v2")
    assert result.returncode == 1
    assert "Expected empty archive" in result.stderr + result.stdout


def test_a_backup_of_a_cluster_recovered_to_a_past_time_restores_to_its_own_latest_state(pg_factory, barman_store):
    """A cluster recovered to a past time, backed up, then recovered to its latest state: CNPG's restore
    (pkg/management/postgres/restore.go) writes the recovery settings into a fresh custom.conf and an emptied
    override.conf, so the first recovery's target never applies to the second one."""
    source = pg_factory(start=False, name="v1").init()
    barman_store.start_archiving(source, "pg-cluster-v1")
    source.sql("CREATE TABLE runs (name text, created timestamptz DEFAULT clock_timestamp())")
    source.sql("INSERT INTO runs (name) VALUES ('before-target')")
    backup_id = barman_store.backup(source, "pg-cluster-v1")
    time.sleep(1.1)
    target_time = _utc_now(source)
    time.sleep(1.1)
    source.sql("INSERT INTO runs (name) VALUES ('after-target')")
    source.wait_archived(source.switch_wal())

    recovered = pg_factory(start=False, name="v2")
    barman_store.restore("pg-cluster-v1", backup_id, recovered, target_time=target_time, archive_as="pg-cluster-v2")
    recovered.sql("INSERT INTO runs (name) VALUES ('after-recovery')")
    recovered_backup = barman_store.backup(recovered, "pg-cluster-v2")
    recovered.sql("INSERT INTO runs (name) VALUES ('after-its-backup')")
    recovered.wait_archived(recovered.switch_wal())

    again = pg_factory(start=False, name="v3")
    barman_store.restore("pg-cluster-v2", recovered_backup, again)
    names = [row[0] for row in again.sql("SELECT name FROM runs ORDER BY created")]
    assert names == ["before-target", "after-recovery", "after-its-backup"]
