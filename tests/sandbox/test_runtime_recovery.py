"""Point-in-time recovery in the sandbox with real barman-cloud: a new Cluster restored to a target time between
two writes holds the first and not the second, archives under its own name, and has a new app password; a
recovery that would archive into a non-empty folder stays not ready with "Expected empty archive"."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.sandbox.runtime_stack import BACKUP_BUCKET, CHART, Stack, processes_of, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHART / "Chart.yaml").is_file(), reason="charts/mlflow is not in this checkout")]

OLD = "pg-cluster-v1"
PLUGIN = "barman-cloud.cloudnative-pg.io"


@pytest.fixture(name="stack", scope="module")
def fixture_stack(real_cluster):
    stack = Stack(real_cluster, f"rt-recover-{uuid.uuid4().hex[:6]}")
    stack.prepare()
    # Only the database matters here: no MLflow pod (replicas 0), which also keeps the memory low.
    stack.helm_upgrade(stack.values("3.4.0", mlflow={"replicas": 0}))
    stack.wait_condition("clusters.postgresql.cnpg.io", OLD, "Ready")
    wait_until(lambda: [b for b in stack.items("backups.postgresql.cnpg.io")
                        if (b.get("status") or {}).get("phase") == "completed"], 120, "the immediate base backup")
    yield stack
    real_cluster.kubectl("delete", "namespace", stack.namespace, "--wait=false", check=False)


def _recovery_cluster(name: str, server_name: str, target_time: str | None = None) -> dict:
    recovery = {"source": "origin", "database": "mlflow", "owner": "mlflow"}
    if target_time:
        recovery["recoveryTarget"] = {"targetTime": target_time}
    return {
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": name},
        "spec": {"instances": 1, "storage": {"size": "1Gi"}, "bootstrap": {"recovery": recovery},
                 "externalClusters": [{"name": "origin", "plugin": {"name": PLUGIN, "parameters": {
                     "barmanObjectName": "mlflow-backups", "serverName": OLD}}}],
                 "plugins": [{"name": PLUGIN, "isWALArchiver": True,
                              "parameters": {"barmanObjectName": "mlflow-backups", "serverName": server_name}}]},
    }


def test_recovery_to_a_time_between_two_writes(stack: Stack):
    stack.sql(OLD, "CREATE TABLE marks (n int, at timestamptz DEFAULT clock_timestamp())")
    stack.sql(OLD, "INSERT INTO marks (n) VALUES (1)")
    time.sleep(1.5)
    target = stack.sql(OLD, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")[0][0]
    time.sleep(1.5)
    stack.sql(OLD, "INSERT INTO marks (n) VALUES (2)")
    stack.switch_wal_and_wait_archived(OLD)

    stack.apply(_recovery_cluster("pg-cluster-v2", "pg-cluster-v2", target))
    cluster = stack.wait_condition("clusters.postgresql.cnpg.io", "pg-cluster-v2", "Ready", timeout=240)
    assert cluster["status"]["phase"] == "Cluster in healthy state"
    assert stack.sql("pg-cluster-v2", "SELECT n FROM marks ORDER BY n") == [(1,)]
    # The restored data keeps the auth database the chart's Database resource created.
    assert stack.sql("pg-cluster-v2", "SELECT 1 FROM pg_database WHERE datname = 'mlflow_auth'") == [(1,)]
    # A new app secret with a new password: the recovered owner logs in with it (and the old one is refused).
    assert stack.app_credentials("pg-cluster-v2")[1] != stack.app_credentials(OLD)[1]

    # It archives under its own serverName, never into the source's folder.
    stack.wait_condition("clusters.postgresql.cnpg.io", "pg-cluster-v2", "ContinuousArchiving", timeout=120)
    keys = [o["Key"] for o in stack.s3().list_objects_v2(
        Bucket=BACKUP_BUCKET, Prefix=f"{stack.namespace}/pg-cluster-v2/wals/").get("Contents", [])]
    assert keys, "the recovered cluster archived no WAL under its own name"


def test_recovery_into_a_non_empty_archive_folder_is_refused(stack: Stack):
    stack.apply(_recovery_cluster("pg-cluster-v3", OLD))  # would archive into pg-cluster-v1's folder
    cluster = stack.wait_condition("clusters.postgresql.cnpg.io", "pg-cluster-v3", "Ready", status="False",
                                   timeout=120)

    def refused():
        current = stack.get("clusters.postgresql.cnpg.io", "pg-cluster-v3")
        ready = [c for c in current["status"]["conditions"] if c["type"] == "Ready"][0]
        return current if "Expected empty archive" in ready.get("message", "") else None
    cluster = wait_until(refused, 120, "the empty-archive check to refuse the cluster")
    assert cluster["status"]["phase"] == "Setting up primary"
    assert not [p for p in processes_of(stack.cluster.state_dir, stack.namespace) if "pg-cluster-v3" in p]


def test_recovery_into_an_image_of_another_major_never_starts(stack: Stack):
    """CNPG bootstraps only from a backup of the same PostgreSQL major (docs/src/bootstrap.md); the restored data
    directory is refused by PostgreSQL itself (miscinit.c ValidatePgVersion), so the Cluster never becomes ready.
    The source took its image from the operator's default (CNPG 1.30: pkg/versions/versions.go DefaultImageName,
    PostgreSQL 18.6) and its backups record that major (Backup status.majorVersion)."""
    source = stack.get("clusters.postgresql.cnpg.io", OLD)
    # CNPG's default (pkg/postgres/configuration.go): a segment is archived at least every 5 minutes.
    assert stack.superuser_sql(OLD, "SHOW archive_timeout") == [("5min",)]
    assert source["status"]["image"] == "ghcr.io/cloudnative-pg/postgresql:18.6-system-trixie"
    assert source["status"]["pgDataImageInfo"] == {"image": source["status"]["image"], "majorVersion": 18}
    backups = [b for b in stack.items("backups.postgresql.cnpg.io") if b["status"].get("phase") == "completed"]
    assert backups and {b["status"]["majorVersion"] for b in backups} == {18}

    older = _recovery_cluster("pg-cluster-v17", "pg-cluster-v17")
    older["spec"]["imageName"] = "ghcr.io/cloudnative-pg/postgresql:17.5-standard-bookworm"
    stack.apply(older)

    def refused():
        current = stack.get("clusters.postgresql.cnpg.io", "pg-cluster-v17")
        reason = (current.get("status") or {}).get("phaseReason", "")
        return current if "database files are incompatible with server" in reason else None
    cluster = wait_until(refused, 120, "PostgreSQL 17 to refuse the data directory of a PostgreSQL 18 backup")
    assert cluster["status"]["phase"] == "Setting up primary"
    assert "initialized by PostgreSQL version 18, which is not compatible with this version 17" in \
        cluster["status"]["phaseReason"]
    ready = [c for c in cluster["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "False" and "incompatible" in ready["message"]
    assert "pgDataImageInfo" not in cluster["status"]
