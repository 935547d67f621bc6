"""Upgrading MLflow in the sandbox with real processes: a newer server on the old schema crashloops, the migrate
Job of that version brings the schema to head, then the new server becomes ready and serves the old runs. Also:
failing Jobs, unbuilt images and unknown versions fail the way a cluster shows it."""

from __future__ import annotations

import shutil
import time
import uuid

import pytest
from kubernetes import client as k8s_client, config as k8s_config

from sandbox.runtime.venvs import venv_path
from tests.sandbox.runtime_stack import CHART, Stack, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHART / "Chart.yaml").is_file(), reason="charts/mlflow is not in this checkout")]

CLUSTER = "pg-cluster-v1"
OLD, NEW = "3.4.0", "3.17.2"  # 3.17.2 has tracking-schema migrations 3.4.0 lacks


@pytest.fixture(name="stack", scope="module")
def fixture_stack(real_cluster):
    stack = Stack(real_cluster, f"rt-upgrade-{uuid.uuid4().hex[:6]}")
    stack.prepare()
    stack.helm_upgrade(stack.values(OLD))
    stack.wait_condition("clusters.postgresql.cnpg.io", CLUSTER, "Ready")
    stack.write_auth_config(CLUSTER)
    real_cluster.kubectl("-n", stack.namespace, "rollout", "status", "deployment/mlflow", "--timeout=180s")
    yield stack
    real_cluster.kubectl("delete", "namespace", stack.namespace, "--wait=false", check=False)


def _core(stack: Stack) -> k8s_client.CoreV1Api:
    k8s_config.load_kube_config(config_file=str(stack.cluster.kubeconfig))
    return k8s_client.CoreV1Api()


def _pods_of_version(stack: Stack, version: str) -> list[dict]:
    return [p for p in stack.server_pods() if p["metadata"]["labels"].get("app.kubernetes.io/version") == version]


def _head(stack: Stack) -> str:
    return stack.sql(CLUSTER, "SELECT version_num FROM alembic_version")[0][0]


def _crashing(stack: Stack, version: str):
    pods = _pods_of_version(stack, version)
    statuses = [p.get("status", {}).get("containerStatuses", [{}])[0] for p in pods]
    return pods if statuses and statuses[0].get("restartCount", 0) >= 1 and not statuses[0].get("ready") else None


def test_migrate_job_then_rollout_serves_the_old_runs_and_a_rollback_crashloops(stack: Stack):
    """MLflow 3.x servers migrate an older tracking schema by themselves when their version adds tables (every
    pinned step does), so the flows migrate explicitly first, with the migrate Job, before pods roll. A server on a
    schema newer than it knows (an image rolled back after a migration) cannot start: it crashloops."""
    experiment = stack.mlflow("POST", "/api/2.0/mlflow/experiments/create", json={"name": "before-upgrade"})
    run_id = stack.mlflow("POST", "/api/2.0/mlflow/runs/create",
                          json={"experiment_id": experiment.json()["experiment_id"]}).json()["run"]["info"]["run_id"]
    old_head = _head(stack)

    # The upgrade flow: build the new image while the old version serves, migrate with its Job, then roll out.
    stack.helm_upgrade(stack.values(OLD, build={"tag": NEW}, migration={"enabled": True, "runId": "r1"}))
    build = wait_until(lambda: [b for b in stack.items("builds.build.openshift.io")
                                if b["metadata"]["name"].startswith("mlflow-v3-17-2")
                                and b.get("status", {}).get("phase") == "Complete"], 300, f"the {NEW} build")
    assert build[0]["status"]["outputDockerImageReference"].endswith(f"/mlflow:v{NEW}")
    job = stack.wait_condition("jobs.batch", "mlflow-migrate-r1", "Complete", timeout=300)
    assert job["status"]["succeeded"] == 1
    job_pods = _core(stack).list_namespaced_pod(stack.namespace, label_selector="job-name=mlflow-migrate-r1").items
    assert job_pods and job_pods[0].metadata.owner_references[0].kind == "Job"
    job_log = _core(stack).read_namespaced_pod_log(job_pods[0].metadata.name, stack.namespace)
    assert "migrate-db: done" in job_log
    new_head = _head(stack)
    assert new_head != old_head

    stack.helm_upgrade(stack.values(NEW))
    stack.cluster.kubectl("-n", stack.namespace, "rollout", "status", "deployment/mlflow", "--timeout=300s")
    wait_until(lambda: not _pods_of_version(stack, OLD), 120, "the old pods to go")
    assert stack.mlflow("GET", "/version").text == NEW
    served = stack.mlflow("GET", "/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert served.status_code == 200 and served.json()["run"]["info"]["run_id"] == run_id

    # Rolling the old image back onto the migrated schema: the pod crashloops and never becomes ready, while
    # the running server (maxUnavailable 0) keeps serving.
    stack.helm_upgrade(stack.values(OLD))
    pod = wait_until(lambda: _crashing(stack, OLD), 180, f"the {OLD} pod to crash and restart")[0]
    logs = _core(stack).read_namespaced_pod_log(pod["metadata"]["name"], stack.namespace, previous=True)
    assert "Can't locate revision" in logs or "Detected out-of-date database schema" in logs, logs[-2000:]
    assert stack.mlflow("GET", "/version").text == NEW
    assert _head(stack) == new_head
    deployment = stack.get("deployment", "mlflow")
    assert deployment["status"].get("updatedReplicas", 0) == 1 and deployment["status"]["availableReplicas"] == 1


def test_a_failing_job_reports_failed_with_its_log(stack: Stack):
    stack.apply({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fails"},
                 "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
                     "name": "main", "image": "busybox:1.36",
                     "command": ["/bin/sh", "-c", "echo cannot migrate: $REASON >&2; exit 3"],
                     "env": [{"name": "REASON", "valueFrom": {"secretKeyRef": {"name": "mlflow-flask-secret",
                                                                               "key": "MLFLOW_FLASK_SERVER_SECRET_KEY"}}}],
                 }]}}}})
    job = stack.wait_condition("jobs.batch", "fails", "Failed", timeout=60)
    assert job["status"]["failed"] == 1
    assert [c for c in job["status"]["conditions"] if c["type"] == "Failed"][0]["reason"] == "BackoffLimitExceeded"
    logs = stack.cluster.kubectl("-n", stack.namespace, "logs", "job/fails").stdout
    assert logs.strip() == "cannot migrate: sandbox-flask-secret"
    pod = stack.items("pods", "-l", "job-name=fails")[0]
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3


def test_an_unbuilt_image_tag_cannot_be_pulled(stack: Stack):
    template = {"metadata": {"labels": {"app": "unbuilt"}}, "spec": {"containers": [{
        "name": "mlflow", "image": f"image-registry.openshift-image-registry.svc:5000/{stack.namespace}/mlflow:v9.9.9",
        "command": ["mlflow", "server"]}]}}
    stack.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "unbuilt"},
                 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "unbuilt"}}, "template": template}})

    def waiting():
        pods = stack.items("pods", "-l", "app=unbuilt")
        state = pods[0].get("status", {}).get("containerStatuses", [{}])[0].get("state", {}) if pods else {}
        # ErrImagePull at each attempt, ImagePullBackOff in between (kubelet's image_manager.go)
        return state.get("waiting") if state.get("waiting", {}).get("reason") == "ImagePullBackOff" else None
    waiting_state = wait_until(waiting, 60, "the pod to wait for its image")
    assert waiting_state["reason"] == "ImagePullBackOff"
    assert "v9.9.9" in waiting_state["message"]
    assert not stack.get("deployment", "unbuilt")["status"].get("availableReplicas")


def test_a_build_of_an_unknown_version_fails_with_the_pip_error(stack: Stack):
    """A failed build is OpenShift's (openshift/api build/v1: reason DockerBuildFailed, message "Docker build
    strategy has failed.", the end of the log in logSnippet), its log is served as `oc logs build/<name>` reads it
    (builds/<name>/log), and no tag moves. Applying the BuildConfig again starts no build: its ConfigChange
    trigger fired once, when it was created (openshift-controller-manager buildconfig_controller.go)."""
    version = "0.0.0"
    dockerfile = f'FROM ghcr.io/mlflow/mlflow:v{version}\nRUN pip install "mlflow[auth]=={version}"\n'
    build_config = {"apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "metadata": {"name": "bad-version"},
                    "spec": {"triggers": [{"type": "ConfigChange"}],
                             "source": {"type": "Dockerfile", "dockerfile": dockerfile},
                             "strategy": {"type": "Docker", "dockerStrategy": {}},
                             "output": {"to": {"kind": "ImageStreamTag", "name": f"mlflow:v{version}"}}}}
    stack.apply(build_config)
    try:
        build = wait_until(lambda: [b for b in stack.items("builds.build.openshift.io")
                                    if b["metadata"]["name"] == "bad-version-1"
                                    and b.get("status", {}).get("phase") in ("Complete", "Failed")], 300,
                           "the build to finish")[0]
        assert build["status"]["phase"] == "Failed"
        assert (build["status"]["reason"], build["status"]["message"]) == ("DockerBuildFailed",
                                                                           "Docker build strategy has failed.")
        assert f"mlflow[auth]=={version}" in build["status"]["logSnippet"]
        log = stack.cluster.kubectl("get", "--raw", f"/apis/build.openshift.io/v1/namespaces/{stack.namespace}"
                                                    "/builds/bad-version-1/log").stdout
        assert log.startswith(f"STEP 1/2: FROM ghcr.io/mlflow/mlflow:v{version}\n")
        assert f"no version of mlflow[auth]=={version}" in log
        tags = [t["tag"] for t in stack.get("imagestream", "mlflow").get("status", {}).get("tags", [])]
        assert f"v{version}" not in tags
        build_config["metadata"]["labels"] = {"rerun": "yes"}
        stack.apply(build_config)
        time.sleep(2)
        assert [b["metadata"]["name"] for b in stack.items("builds.build.openshift.io")
                if b["metadata"]["name"].startswith("bad-version-")] == ["bad-version-1"]
    finally:
        if not (venv_path(version) / ".complete").exists():
            shutil.rmtree(venv_path(version), ignore_errors=True)
