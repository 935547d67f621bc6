"""recover.yml, recovery_drill.yml and backup_check.yml in the sandbox, on real backups in S3."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import pytest

from tests.e2e.sandbox_flows import Sandbox, assert_ok, failure_message
from tests.sandbox.runtime_stack import Stack

pytestmark = pytest.mark.slow
CLUSTER = "pg-cluster-v1"


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_names(sandbox: Sandbox, namespace: str) -> list[str]:
    client = sandbox.mlflow(namespace)
    experiments = client.call("POST", "experiments/search", json={"max_results": 100})["experiments"]
    names = []
    for experiment in experiments:
        names += [run["info"]["run_name"] for run in client.search_runs(experiment["experiment_id"])]
    return sorted(names)


def wait_for_base_backup(sandbox: Sandbox, namespace: str) -> None:
    stack = Stack(sandbox.cluster, namespace)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        backups = stack.items("backups.postgresql.cnpg.io")
        if any((b.get("status") or {}).get("phase") == "completed" for b in backups):
            return
        time.sleep(2)
    raise AssertionError("no completed base backup")


def test_recover_to_a_time_between_two_runs_then_deploy_keeps_the_new_cluster(sandbox: Sandbox, namespace: str):
    assert_ok(sandbox.deploy(namespace, "3.5.0"))
    wait_for_base_backup(sandbox, namespace)
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("recovery")
    client.log_run(experiment, "before-target")
    time.sleep(1.5)
    target = utc_now()
    time.sleep(1.5)
    client.log_run(experiment, "after-target")
    Stack(sandbox.cluster, namespace).switch_wal_and_wait_archived(CLUSTER)

    recovered = sandbox.run("recover", namespace, "3.5.0", extra_vars={"recovery_target_time": target})
    assert_ok(recovered)
    assert run_names(sandbox, namespace) == ["before-target"]
    release = json.loads(sandbox.cluster.helm("get", "values", "mlflow", "-n", namespace, "-o", "json").stdout)
    assert release["postgresql"]["clusterName"] == "pg-cluster-v2"
    assert release["recovery"]["serverName"] == CLUSTER
    # The old cluster (and its data) is still there: Helm kept it, to be deleted by hand once confirmed.
    old = sandbox.cluster.get("clusters.postgresql.cnpg.io", CLUSTER, "-n", namespace)
    assert old["metadata"]["name"] == CLUSTER

    # The inventory still says pg-cluster-v1: a later deploy must keep the recovered cluster.
    redeployed = sandbox.deploy(namespace, "3.5.0")
    assert_ok(redeployed)
    release = json.loads(sandbox.cluster.helm("get", "values", "mlflow", "-n", namespace, "-o", "json").stdout)
    assert release["postgresql"]["clusterName"] == "pg-cluster-v2"
    assert run_names(sandbox, namespace) == ["before-target"]


def test_recover_refuses_a_target_outside_the_window_before_changing_anything(sandbox: Sandbox, namespace: str):
    assert_ok(sandbox.deploy(namespace, "3.5.0"))
    wait_for_base_backup(sandbox, namespace)
    before = sandbox.snapshot()
    too_early = sandbox.run("recover", namespace, "3.5.0", extra_vars={"recovery_target_time": "2020-01-01T00:00:00Z"})
    assert too_early.returncode != 0
    assert "first recoverability point" in failure_message(too_early)
    naive = sandbox.run("recover", namespace, "3.5.0", extra_vars={"recovery_target_time": "2026-01-01T00:00:00"})
    assert naive.returncode != 0 and "zone" in failure_message(naive)
    assert sandbox.snapshot() == before


def test_drill_restores_elsewhere_reports_rto_rpo_and_cleans_up(sandbox: Sandbox, namespace: str, tmp_path: Path):
    assert_ok(sandbox.deploy(namespace, "3.5.0"))
    wait_for_base_backup(sandbox, namespace)
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("drill")
    client.log_run(experiment, "after-the-base-backup")
    Stack(sandbox.cluster, namespace).switch_wal_and_wait_archived(CLUSTER)
    production = {key: value for key, value in sandbox.snapshot().items() if key[1] == namespace}
    s3_before = sorted(o["Key"] for o in sandbox.s3().list_objects_v2(Bucket="mlflow-backups",
                                                                      Prefix=f"{namespace}/")["Contents"])

    drill = sandbox.run("recovery_drill", namespace, "3.5.0", extra_vars={"drill_report_dir": str(tmp_path)})
    assert_ok(drill)
    report = json.loads(next(tmp_path.glob("drill-*.json")).read_text())
    assert report["result"] == "passed"
    assert report["rto_seconds"] > 0
    # The last run's WAL was archived before the drill: a real recovery would lose nothing.
    assert report["rpo_basis"] == "production's newest run"
    assert report["rpo_seconds"] == 0
    assert report["wal_replayed_past_base_backup"] is True
    assert report["runs"] == 1
    namespaces = [item["metadata"]["name"] for item in sandbox.cluster.get("namespaces")["items"]]
    assert report["drill_namespace"] not in namespaces
    assert {key: value for key, value in sandbox.snapshot().items() if key[1] == namespace} == production
    s3_after = sorted(o["Key"] for o in sandbox.s3().list_objects_v2(Bucket="mlflow-backups",
                                                                     Prefix=f"{namespace}/")["Contents"])
    assert [key for key in s3_after if key not in s3_before and "/wals/" not in key] == []
    assert not [key for key in s3_after if "-drill/" in key], "the drill archived into the backup store"


def test_backup_check_passes_on_a_healthy_cluster(sandbox: Sandbox, namespace: str):
    assert_ok(sandbox.deploy(namespace, "3.5.0"))
    wait_for_base_backup(sandbox, namespace)
    checked = sandbox.run("backup_check", namespace, "3.5.0")
    assert_ok(checked)
    stale = sandbox.run("backup_check", namespace, "3.5.0", extra_vars={"mlflow_backup_max_age_hours": 0})
    assert stale.returncode != 0 and "the newest base backup is" in failure_message(stale)
