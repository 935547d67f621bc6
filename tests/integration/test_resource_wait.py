"""resource_wait through ansible-playbook against the sandbox API server (stand-in controllers): a rollout that
finishes, one that never does (an image no registry has), and a Backup no controller takes, with the progress
lines a person reads while it waits and the error that ends it."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from tests.sandbox.cluster import SandboxCluster
from tests.support.ansible_run import run_module

MODULE = "mlops.mlflow.resource_wait"
NAMESPACE = "waits"


@pytest.fixture(name="cluster", scope="module")
def fixture_cluster():
    root = Path(tempfile.mkdtemp(prefix="wait-tests-"))
    cluster = SandboxCluster(root, controllers="stand-in").start()
    cluster.kubectl("create", "namespace", NAMESPACE)
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def wait(cluster, check=False, **options):
    env = {key: cluster.env[key] for key in ("K8S_AUTH_KUBECONFIG", "TMPDIR", "HOME")}
    return run_module(MODULE, {"namespace": NAMESPACE, **options}, check=check, env=env)


def result_of(run) -> dict:
    """The task's result (the json callback's document comes after the progress lines)."""
    assert run.report, run.stdout[-3000:]
    return run.result


def apply(cluster, manifest: dict) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))


def deployment(cluster, name: str, image: str) -> None:
    labels = {"app": name}
    apply(cluster, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}]}}}})


def backup(cluster, name: str) -> None:
    apply(cluster, {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {"cluster": {"name": "pg"}, "method": "plugin",
                             "pluginConfiguration": {"name": "barman-cloud.cloudnative-pg.io"}}})


def test_a_rollout_that_finishes_returns_the_deployment_in_check_mode_too(cluster):
    deployment(cluster, "ready", "busybox:1.36")
    for check in (False, True):
        run = wait(cluster, check=check, kind="Deployment", name="ready", wait_timeout=60)
        assert run.returncode == 0, run.stdout[-3000:]
        result = result_of(run)
        assert result["ready"] is True and result["changed"] is False
        assert result["resource"]["status"]["updatedReplicas"] == 2
        assert result["summary"] == f"Deployment {NAMESPACE}/ready: 2 of 2 replicas updated, 2 available, 2 in all"
        assert "resource_wait:" not in run.stdout  # done within the first slice: no progress line


def test_a_rollout_that_never_finishes_shows_progress_then_fails_with_what_it_saw(cluster):
    # An image the sandbox cannot pull (ErrImagePull in a real cluster): the replicas never become available.
    deployment(cluster, "stuck", "registry.invalid/nothing:1")
    # 11 s in slices of 2 s: at least two progress lines even when each module call takes seconds on a loaded machine.
    run = wait(cluster, kind="Deployment", name="stuck", wait_timeout=11, wait_sleep=1, progress_interval=2)
    assert run.returncode != 0
    progress = [line for line in run.stdout.splitlines() if line.startswith("resource_wait: ")]
    assert len(progress) >= 2, run.stdout[-3000:]
    assert progress[0].startswith(f"resource_wait: [localhost] Deployment {NAMESPACE}/stuck: 2 of 2 replicas updated, "
                                  "0 available")
    assert progress[0].endswith("s of at most 11 s")
    result = result_of(run)
    assert result["timed_out"] is True and result["ready"] is False
    assert result["msg"].startswith(f"Deployment {NAMESPACE}/stuck did not reach every replica updated and available "
                                    "in time. Last seen: 2 of 2 replicas updated, 0 available")
    assert "(wait_timeout 11)" in result["msg"]


def test_a_backup_no_controller_takes_times_out_with_its_phase(cluster):
    # The stand-ins leave Backups alone (no backup is pretended): this one never gets a phase.
    backup(cluster, "pending")
    run = wait(cluster, kind="Backup", name="pending", wait_timeout=3, wait_sleep=1)
    assert run.returncode != 0
    assert "Backup waits/pending did not reach a final phase (completed or failed) in time. Last seen: phase not " \
           "started." in result_of(run)["msg"]


def finish_backup(cluster, name: str, phase: str) -> None:
    cluster.kubectl("patch", "backups.postgresql.cnpg.io", name, "-n", NAMESPACE, "--subresource=status",
                    "--type=merge", "-p", json.dumps({"status": {"phase": phase}}))


def wait_while(cluster, change, name: str) -> dict:
    """Wait for Backup `name` (a read every 20 s at most, were it polled) while `change` happens a second later."""
    later = threading.Timer(1.0, change)
    later.start()
    try:
        run = wait(cluster, kind="Backup", name=name, wait_timeout=60, wait_sleep=20)
    finally:
        later.join()
    assert run.returncode == 0, run.stdout[-3000:]
    return result_of(run)


def test_a_change_is_seen_when_the_api_server_sends_it_not_at_the_next_read(cluster):
    """The wait watches: a Backup completed a second after the wait began ends it then, long before wait_sleep
    (20 s) would have brought a second read; and a Backup created after the wait began is seen too (the list's
    resourceVersion is where the watch starts, so nothing in between is missed)."""
    backup(cluster, "watched")
    result = wait_while(cluster, lambda: finish_backup(cluster, "watched", "completed"), "watched")
    assert result["resource"]["status"]["phase"] == "completed"
    assert result["elapsed"] < 20, result

    result = wait_while(cluster, lambda: (backup(cluster, "late"), finish_backup(cluster, "late", "failed")), "late")
    assert result["resource"]["status"]["phase"] == "failed"
    assert result["elapsed"] < 20, result


def test_a_bad_input_is_refused_before_anything_is_read(cluster):
    run = wait(cluster, kind="Deployment", name="ready", wait_timeout="soon")
    assert run.returncode != 0
    assert "wait_timeout must be a whole number of seconds" in run.stdout
    run = wait(cluster, kind="Deployment", name="ready", require_archiving=True)
    assert run.returncode != 0
    assert "require_archiving applies to kind Cluster only, not Deployment" in result_of(run)["msg"]


def test_a_build_is_waited_for_until_its_final_phase(cluster):
    """The MLflow image's OpenShift Build (wait_image.yml): Running, then Complete a second after the wait began,
    seen when the API server sends it; one that stays New times out saying so (openshift/api build/v1 phases)."""
    for name in ("image-1", "image-2"):
        apply(cluster, {"apiVersion": "build.openshift.io/v1", "kind": "Build",
                        "metadata": {"name": name, "namespace": NAMESPACE},
                        "spec": {"strategy": {"type": "Docker", "dockerStrategy": {}},
                                 "source": {"type": "Dockerfile", "dockerfile": "FROM scratch"},
                                 "output": {"to": {"kind": "ImageStreamTag", "name": "mlflow:v3.5.0"}}}})

    def phase(name: str, value: str) -> None:
        cluster.kubectl("patch", "builds.build.openshift.io", name, "-n", NAMESPACE, "--subresource=status",
                        "--type=merge", "-p", json.dumps({"status": {"phase": value}}))

    phase("image-1", "Running")
    later = threading.Timer(1.0, phase, ("image-1", "Complete"))
    later.start()
    try:
        run = wait(cluster, kind="Build", name="image-1", wait_timeout=60, wait_sleep=20)
    finally:
        later.join()
    assert run.returncode == 0, run.stdout[-3000:]
    result = result_of(run)
    assert result["resource"]["status"]["phase"] == "Complete" and result["elapsed"] < 20, result

    phase("image-2", "New")
    run = wait(cluster, kind="Build", name="image-2", wait_timeout=3, wait_sleep=1)
    assert run.returncode != 0
    assert result_of(run)["msg"].startswith(
        f"Build {NAMESPACE}/image-2 did not reach a final phase (Complete, Failed, Error or Cancelled) in time. "
        "Last seen: phase New"), result_of(run)["msg"]
