"""The chart deployed into the sandbox with real processes: PostgreSQL archiving and backing up to S3 through
barman-cloud, MLflow 3.4.0 serving from PostgreSQL, names resolving, logs readable, scaling and hibernation
stopping processes, namespace deletion stopping everything."""

from __future__ import annotations

import time
import uuid

import psycopg2
import pytest
import requests
from kubernetes import client as k8s_client, config as k8s_config

from tests.sandbox.runtime_stack import BACKUP_BUCKET, CHART, Stack, processes_of, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHART / "Chart.yaml").is_file(), reason="charts/mlflow is not in this checkout")]

CLUSTER = "pg-cluster-v1"


@pytest.fixture(name="stack", scope="module")
def fixture_stack(real_cluster):
    stack = Stack(real_cluster, f"rt-deploy-{uuid.uuid4().hex[:6]}")
    stack.prepare()
    stack.helm_upgrade(stack.values("3.4.0"))
    stack.wait_condition("clusters.postgresql.cnpg.io", CLUSTER, "Ready")
    stack.write_auth_config(CLUSTER)
    real_cluster.kubectl("-n", stack.namespace, "rollout", "status", "deployment/mlflow", "--timeout=180s")
    yield stack
    real_cluster.kubectl("delete", "namespace", stack.namespace, "--wait=false", check=False)


def test_cluster_archives_wal_and_the_immediate_backup_lands_in_s3(stack: Stack):
    cluster = stack.wait_condition("clusters.postgresql.cnpg.io", CLUSTER, "ContinuousArchiving")
    assert cluster["status"]["phase"] == "Cluster in healthy state"
    assert cluster["status"]["currentPrimary"] == f"{CLUSTER}-1"

    backups = wait_until(lambda: [b for b in stack.items("backups.postgresql.cnpg.io",
                                                         "-l", f"cnpg.io/scheduled-backup={CLUSTER}-daily")
                                  if (b.get("status") or {}).get("phase") == "completed"], 120,
                         "the immediate backup of the ScheduledBackup")
    status = backups[0]["status"]
    assert status["method"] == "plugin" and status["serverName"] == CLUSTER
    assert status["startedAt"] <= status["stoppedAt"]
    keys = [o["Key"] for o in stack.s3().list_objects_v2(Bucket=BACKUP_BUCKET,
                                                         Prefix=f"{stack.namespace}/{CLUSTER}/")["Contents"]]
    assert f"{stack.namespace}/{CLUSTER}/base/{status['backupId']}/backup.info" in keys
    assert any(f"/{CLUSTER}/wals/" in key for key in keys), keys

    window = wait_until(lambda: (stack.get("objectstores.barmancloud.cnpg.io", "mlflow-backups").get("status") or {})
                        .get("serverRecoveryWindow", {}).get(CLUSTER), 60, "the ObjectStore recovery window")
    assert window["firstRecoverabilityPoint"] <= window["lastSuccessfulBackupTime"]
    scheduled = stack.get("scheduledbackups.postgresql.cnpg.io", f"{CLUSTER}-daily")
    assert scheduled["status"]["nextScheduleTime"].endswith("T00:00:00Z")  # the chart's "0 0 0 * * *"


def test_a_triggered_schedule_takes_another_backup(stack: Stack):
    before = {b["metadata"]["name"] for b in stack.items("backups.postgresql.cnpg.io")}
    stack.cluster.kubectl("-n", stack.namespace, "annotate", "--overwrite", "scheduledbackup", f"{CLUSTER}-daily",
                          f"sandbox.mlops.io/trigger-backup={uuid.uuid4().hex[:6]}")
    new = wait_until(lambda: [b for b in stack.items("backups.postgresql.cnpg.io")
                              if b["metadata"]["name"] not in before
                              and (b.get("status") or {}).get("phase") == "completed"], 120, "a triggered backup")
    assert new[0]["metadata"]["ownerReferences"][0]["kind"] == "ScheduledBackup"  # backupOwnerReference: self


def test_the_recovery_window_is_written_by_the_primary_pods_sidecar_not_on_object_store_changes(stack: Stack):
    """plugin-barman-cloud, internal/cnpgi/instance: the window is written by the sidecar in the primary's pod,
    after a backup (backup.go) and by its catalog maintenance when it starts and every
    retentionPolicyIntervalSeconds (retention.go, 1800 s by default); no controller lists the store when the
    ObjectStore changes."""
    def window():
        status = stack.get("objectstores.barmancloud.cnpg.io", "mlflow-backups").get("status") or {}
        return (status.get("serverRecoveryWindow") or {}).get(CLUSTER)

    written = wait_until(window, 60, "the ObjectStore recovery window")
    stack.cluster.kubectl("-n", stack.namespace, "patch", "objectstores.barmancloud.cnpg.io", "mlflow-backups",
                          "--subresource=status", "--type=merge", "-p", '{"status": {"serverRecoveryWindow": null}}')
    stack.cluster.kubectl("-n", stack.namespace, "annotate", "--overwrite", "objectstores.barmancloud.cnpg.io",
                          "mlflow-backups", f"changed={uuid.uuid4().hex[:6]}")
    time.sleep(5)  # more than two steps of the cluster's loop (2 s): a rewrite would be back by now
    assert window() is None

    # A new primary pod is a new sidecar: its first maintenance cycle lists the catalog and writes the window again.
    stack.cluster.kubectl("-n", stack.namespace, "delete", "pod", f"{CLUSTER}-1", "--wait=false")
    assert wait_until(window, 90, "the window written by the new pod's sidecar") == written
    stack.wait_condition("clusters.postgresql.cnpg.io", CLUSTER, "Ready")


def test_databases_and_app_secret_as_the_chart_asks(stack: Stack):
    secret = stack.get("secret", f"{CLUSTER}-app")
    assert {"username", "password", "host", "port", "dbname", "uri"} <= set(secret["data"])
    owners = dict(stack.sql(CLUSTER, "SELECT datname, pg_get_userbyid(datdba) FROM pg_database"))
    assert owners["mlflow"] == "mlflow" and owners["mlflow_auth"] == "mlflow"
    assert stack.get("databases.postgresql.cnpg.io", f"{CLUSTER}-mlflow-auth")["status"]["applied"] is True
    user = stack.app_credentials(CLUSTER)[0]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host=stack.service_address(f"{CLUSTER}-rw"), port=5432, user=user, password="wrong",
                         dbname="mlflow", connect_timeout=5)


def test_mlflow_serves_runs_that_land_in_postgresql(stack: Stack):
    experiment = stack.mlflow("POST", "/api/2.0/mlflow/experiments/create", json={"name": "sandbox-deploy"})
    assert experiment.status_code == 200, experiment.text
    run = stack.mlflow("POST", "/api/2.0/mlflow/runs/create",
                       json={"experiment_id": experiment.json()["experiment_id"]}).json()["run"]["info"]
    logged = stack.mlflow("POST", "/api/2.0/mlflow/runs/log-metric",
                          json={"run_id": run["run_id"], "key": "loss", "value": 0.25, "timestamp": 1})
    assert logged.status_code == 200, logged.text
    rows = stack.sql(CLUSTER, f"SELECT key, value FROM metrics WHERE run_uuid = '{run['run_id']}'")
    assert rows == [("loss", 0.25)]
    # Without credentials basic-auth refuses: the server really runs the auth app on its own database.
    assert requests.get(stack.mlflow("GET", "/health").url.replace("/health", "/version"), timeout=10,
                        headers={"Host": f"mlflow.{stack.namespace}.svc:5000"}).status_code == 401


def test_names_resolve_for_processes_given_the_sandbox_resolver(stack: Stack):
    # Service names are the cluster DNS's (CoreDNS, kubernetes plugin): pods resolve them, a workstation does not.
    by_service = stack.curl(f"http://mlflow.{stack.namespace}.svc:5000/version", in_pod=True)
    assert by_service.stdout == "3.4.0", by_service.stderr
    by_short_name = stack.curl("http://mlflow:5000/version", in_pod=True)
    assert by_short_name.stdout == "3.4.0", by_short_name.stderr
    outside = stack.curl(f"http://mlflow.{stack.namespace}.svc:5000/version")
    assert outside.returncode == 6 and "Could not resolve host" in outside.stderr, outside
    route = stack.get("routes.route.openshift.io", "mlflow")
    by_route = stack.curl(f"http://{route['spec']['host']}/version")
    assert by_route.stdout == "3.4.0", by_route.stderr
    assert route["status"]["ingress"][0]["conditions"][0]["status"] == "True"


def test_pod_logs_are_served_through_the_api(stack: Stack):
    k8s_config.load_kube_config(config_file=str(stack.cluster.kubeconfig))
    core = k8s_client.CoreV1Api()
    pod = stack.server_pods()[0]["metadata"]["name"]
    text = core.read_namespaced_pod_log(pod, stack.namespace, tail_lines=200)
    assert "GET /health" in text
    assert "Uvicorn running" in stack.cluster.kubectl("-n", stack.namespace, "logs", "deployment/mlflow").stdout
    postgres_log = core.read_namespaced_pod_log(f"{CLUSTER}-1", stack.namespace)
    assert "database system is ready to accept connections" in postgres_log


def test_scale_to_zero_stops_the_server_and_the_service_refuses(stack: Stack):
    stack.cluster.kubectl("-n", stack.namespace, "scale", "deployment/mlflow", "--replicas=0")
    wait_until(lambda: not stack.server_pods(), 60, "the server pods to go")
    wait_until(lambda: not [p for p in processes_of(stack.cluster.state_dir, stack.namespace) if "mlflow" in p], 60,
               "the MLflow processes to stop")
    with pytest.raises(requests.ConnectionError):
        stack.mlflow("GET", "/health")
    stack.cluster.kubectl("-n", stack.namespace, "scale", "deployment/mlflow", "--replicas=1")
    stack.cluster.kubectl("-n", stack.namespace, "rollout", "status", "deployment/mlflow", "--timeout=180s")
    assert stack.mlflow("GET", "/version").text == "3.4.0"


def test_hibernation_stops_postgresql_and_wakes_it_up(stack: Stack):
    cluster = f"clusters.postgresql.cnpg.io/{CLUSTER}"
    stack.cluster.kubectl("-n", stack.namespace, "annotate", cluster, "cnpg.io/hibernation=on")
    stack.wait_condition("clusters.postgresql.cnpg.io", CLUSTER, "Ready", status="False")
    wait_until(lambda: not [p for p in processes_of(stack.cluster.state_dir, stack.namespace) if "postgres -D" in p],
               60, "the postmaster to stop")
    stack.cluster.kubectl("-n", stack.namespace, "annotate", "--overwrite", cluster, "cnpg.io/hibernation=off")
    stack.wait_condition("clusters.postgresql.cnpg.io", CLUSTER, "Ready")
    assert stack.sql(CLUSTER, "SELECT count(*) FROM metrics")[0][0] >= 1


def test_deleting_the_namespace_stops_every_process(stack: Stack):
    assert processes_of(stack.cluster.state_dir, stack.namespace)
    stack.cluster.kubectl("delete", "namespace", stack.namespace)
    wait_until(lambda: not processes_of(stack.cluster.state_dir, stack.namespace), 90,
               "the namespace's processes to stop")
