"""upgrade.yml in the sandbox, with real PostgreSQL, barman-cloud, S3 and MLflow processes (a second deploy, --check, the
refused upgrades and a rolling upgrade watched by a prober run in tests/live; 3.4.0 -> 3.5.0 with an HA database,
--check and the rerun, in the fleet's canary: test_fleet.py)."""

from __future__ import annotations

import pytest

from tests.e2e.sandbox_flows import Sandbox
from tests.support.ansible_run import assert_ok, failure_message

pytestmark = pytest.mark.slow


def seed_runs(sandbox: Sandbox, namespace: str, count: int = 3) -> tuple[str, list[str]]:
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("churn-model")
    for index in range(count):
        client.log_run(experiment, f"run-{index}", params={"lr": str(index)}, metrics={"loss": 1.0 / (index + 1)})
    return experiment, sorted(run["info"]["run_id"] for run in client.search_runs(experiment))


def served_runs(sandbox: Sandbox, namespace: str, experiment: str) -> list[str]:
    return sorted(run["info"]["run_id"] for run in sandbox.mlflow(namespace).search_runs(experiment))


def builds_of(sandbox: Sandbox, namespace: str, build_config: str) -> list[str]:
    found = sandbox.kubectl_json("builds.build.openshift.io", "-n", namespace,
                                 "-l", f"openshift.io/build-config.name={build_config}")["items"]
    return sorted(item["metadata"]["name"] for item in found)


def test_a_failed_image_build_fails_deploy_with_its_log_and_the_rerun_builds_again(sandbox: Sandbox, namespace: str):
    """On OpenShift: a build whose pip step cannot install a package fails deploy.yml with the build's own log; after
    the fix, the next run starts a new build of the same BuildConfig (a ConfigChange trigger fires once, on creation;
    an edit or a rerun starts none: openshift-controller-manager's buildconfig_controller.go). (The rolling upgrade
    with a prober and the lock is a live scenario: tests/live.)"""
    broken = sandbox.values(namespace, "3.5.0")
    broken.setdefault("build", {})["packages"] = ["psycopg2-binary", "psycopg[binary]", "boto3",
                                                  "no-such-package-mlops==1.0"]
    failed = sandbox.deploy(namespace, "3.5.0", extra_vars={"mlflow_values": broken})
    message = failure_message(failed)
    assert failed.returncode != 0, message
    assert "Build mlflow-v3-5-0-1 of mlflow:v3.5.0 failed" in message and "no-such-package-mlops" in message, message
    assert builds_of(sandbox, namespace, "mlflow-v3-5-0") == ["mlflow-v3-5-0-1"]
    # Meanwhile the person on call scales the MLflow that waits for its image to 0 by hand: kubectl then owns
    # spec.replicas (managedFields, through /scale). Helm 4 applies the fixed release server-side, where changing a
    # field another manager owns is a conflict (Kubernetes "Server-Side Apply", Conflicts): the release takes the
    # count back to the inventory's instead of failing on it.
    sandbox.cluster.kubectl("scale", "deployment/mlflow", "-n", namespace, "--replicas=0")
    fixed = sandbox.deploy(namespace, "3.5.0")
    assert_ok(fixed)
    assert "replica count (0) was last set outside its release, by kubectl (Update through /scale)" in fixed.stdout
    assert sandbox.cluster.get("deployment", "mlflow", "-n", namespace)["spec"]["replicas"] == 1
    assert builds_of(sandbox, namespace, "mlflow-v3-5-0") == ["mlflow-v3-5-0-1", "mlflow-v3-5-0-2"]
    experiment, runs = seed_runs(sandbox, namespace, count=2)
    assert served_runs(sandbox, namespace, experiment) == runs


def test_upgrade_from_2_22_to_3_17_keeps_runs_and_logins(sandbox: Sandbox, namespace: str):
    assert_ok(sandbox.deploy(namespace, "2.22.5"))
    experiment, runs = seed_runs(sandbox, namespace)
    upgraded = sandbox.run("upgrade", namespace, "2.22.5", extra_vars={"mlflow_tag": "3.17.2"})
    assert_ok(upgraded)
    client = sandbox.mlflow(namespace)
    assert client.version_string() == "3.17.2"
    assert served_runs(sandbox, namespace, experiment) == runs
    assert client.api("GET", "experiments/search?max_results=1", auth=("admin", "wrong-password")).status_code == 401
