"""Point-in-time recovery in the sandbox with real barman-cloud: a new Cluster restored to a target time between
two writes holds the first and not the second, archives under its own name, and has a new app password; a
recovery that would archive into a non-empty folder stays not ready with "Expected empty archive"."""

from __future__ import annotations

import re
import subprocess
import threading
import time
import uuid

import pytest

from tests.e2e.faults import TcpGate
from tests.sandbox.runtime_stack import BACKUP_BUCKET, CHART, Stack, processes_of, wait_until
from tests.support.ansible_run import run_module

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

    # CNPG restored the base backup in its full-recovery Job (cloudnative-pg pkg/specs/jobs.go,
    # CreatePrimaryJobViaRecovery): owned by the Cluster, complete, its pod done; nothing is left to exec into.
    job = stack.get("jobs.batch", "pg-cluster-v2-1-full-recovery")
    assert {key: job["metadata"]["labels"][key] for key in ("cnpg.io/cluster", "cnpg.io/instanceName",
                                                            "cnpg.io/jobRole")} == \
        {"cnpg.io/cluster": "pg-cluster-v2", "cnpg.io/instanceName": "pg-cluster-v2-1", "cnpg.io/jobRole": "full-recovery"}
    assert [(ref["kind"], ref["name"]) for ref in job["metadata"]["ownerReferences"]] == [("Cluster", "pg-cluster-v2")]
    wait_until(lambda: any(c["type"] == "Complete" and c["status"] == "True"
                           for c in (stack.get("jobs.batch", job["metadata"]["name"]).get("status") or {})
                           .get("conditions") or []), 60, "the full-recovery Job to complete")
    pods = stack.items("pods", "-l", "cnpg.io/cluster=pg-cluster-v2,cnpg.io/jobRole=full-recovery")
    assert [(pod["spec"]["containers"][0]["name"], pod["status"]["phase"]) for pod in pods] == \
        [("full-recovery", "Succeeded")]
    assert pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    finished = stack.cluster.kubectl("exec", "-n", stack.namespace, pods[0]["metadata"]["name"], "-c", "full-recovery",
                                     "--", "du", "-sb", "/var/lib/postgresql/data/pgdata", check=False)
    # kubectl's own check of the pod's phase (pkg/cmd/exec/exec.go), before it asks the API server.
    assert finished.returncode != 0 and "cannot exec into a container in a completed pod" in finished.stderr, \
        finished.stderr

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


def _hold_when_created(stack: Stack, job: str, gate: TcpGate) -> subprocess.Popen:
    """Hold the gate the moment `job` exists (a watch, not a poll): CNPG's restore then stalls on the store."""
    watch = subprocess.Popen(["kubectl", "get", "jobs.batch", "-n", stack.namespace, "-w", "-o", "name"],
                             env=stack.cluster.env, stdout=subprocess.PIPE, text=True)

    def hold():
        for line in watch.stdout:
            if line.strip() == f"job.batch/{job}":
                gate.hold()
                return
    threading.Thread(target=hold, daemon=True).start()
    return watch


def test_a_restore_in_progress_shows_in_its_job_pod_and_in_the_recovery_wait(stack: Stack):
    """While CNPG's full-recovery Job restores, its pod runs and its `full-recovery` container reaches the PGDATA
    being written (cloudnative-pg pkg/specs/jobs.go); resource_wait's progress lines say how much is restored
    against the backup's size. The restore is held on purpose: the recovery's ObjectStore reaches S3 through a gate
    (tests/e2e/faults.py) that stalls new connections from the moment the Job exists, and lets them through later."""
    gate = TcpGate.to_url(stack.info["s3"]["endpoint"])
    store = stack.get("objectstores.barmancloud.cnpg.io", "mlflow-backups")
    stack.apply({"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore", "metadata": {"name": "held-backups"},
                 "spec": {"configuration": {**store["spec"]["configuration"], "endpointURL": gate.url}}})
    size = int(stack.superuser_sql(OLD, "SELECT sum(pg_tablespace_size(oid)) FROM pg_tablespace")[0][0])
    watch = _hold_when_created(stack, "pg-cluster-v4-1-full-recovery", gate)
    try:
        cluster = _recovery_cluster("pg-cluster-v4", "pg-cluster-v4")
        cluster["spec"]["externalClusters"][0]["plugin"]["parameters"]["barmanObjectName"] = "held-backups"
        stack.apply(cluster)
        selector = "cnpg.io/cluster=pg-cluster-v4,cnpg.io/jobRole=full-recovery"
        pod = wait_until(lambda: next((p for p in stack.items("pods", "-l", selector)
                                       if (p.get("status") or {}).get("phase") == "Running"), None),
                         120, "the full-recovery pod to run")
        assert not gate._released.is_set(), "the gate was not held before the restore began"  # noqa: SLF001
        restored = stack.cluster.kubectl("exec", "-n", stack.namespace, pod["metadata"]["name"], "-c",
                                         "full-recovery", "--", "du", "-sb", "/var/lib/postgresql/data/pgdata")
        assert int(restored.stdout.split()[0]) < size  # the restore has barely begun

        threading.Timer(6.0, gate.release).start()
        env = {key: stack.cluster.env[key] for key in ("K8S_AUTH_KUBECONFIG", "TMPDIR", "HOME")}
        run = run_module("mlops.mlflow.resource_wait", {
            "kind": "Cluster", "name": "pg-cluster-v4", "namespace": stack.namespace, "wait_timeout": 180,
            "progress_interval": 1, "restore_bytes": size}, env=env)
        assert run.returncode == 0, run.stdout[-3000:]
        lines = [line for line in run.stdout.splitlines() if line.startswith("resource_wait: ")]
        megabytes = round(size / 1048576)
        assert any(re.search(rf"; base backup restore: \d+ MB of {megabytes} MB \(\d+%\)", line) for line in lines), lines
        # While nothing is restored there is no rate to promise a time left from (not hours for an empty folder).
        assert not any("s left" in line for line in lines if " restore: 0 MB of " in line), lines
        assert run.result["resource"]["status"]["phase"] == "Cluster in healthy state"
    finally:
        watch.kill()
        gate.shutdown()
