"""recover.yml in the sandbox, on real backups in S3 (the drill, the backup check and the refusals of recover.yml
run on a shared installation: test_shared_installation.py)."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.sandbox_flows import Sandbox, assert_ok, utc_now, wait_for_base_backup
from tests.sandbox.runtime_stack import Stack

pytestmark = pytest.mark.slow
CLUSTER = "pg-cluster-v1"


def run_names(sandbox: Sandbox, namespace: str) -> list[str]:
    client = sandbox.mlflow(namespace)
    experiments = client.call("POST", "experiments/search", json={"max_results": 100})["experiments"]
    names = []
    for experiment in experiments:
        names += [run["info"]["run_name"] for run in client.search_runs(experiment["experiment_id"])]
    return sorted(names)


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
