"""lease_lock against the sandbox API server: create, renew, refuse, take over, release, and a real race."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.sandbox.cluster import SandboxCluster
from tests.support.ansible_run import run_module

MODULE = "mlops.mlflow.lease_lock"


@pytest.fixture(name="cluster", scope="module")
def fixture_cluster():
    root = Path(tempfile.mkdtemp(prefix="lease-tests-"))
    cluster = SandboxCluster(root, controllers="stand-in").start()
    cluster.kubectl("create", "namespace", "mlflow")
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def lock(cluster, holder, name, check=False, **options):
    env = {key: cluster.env[key] for key in ("K8S_AUTH_KUBECONFIG", "TMPDIR", "HOME")}
    return run_module(MODULE, {"namespace": "mlflow", "name": name, "holder": holder, **options}, check=check, env=env)


def lease(cluster, name):
    result = cluster.kubectl("get", "lease", name, "-n", "mlflow", "-o", "json", check=False)
    return None if result.returncode else __import__("json").loads(result.stdout)


def test_acquire_renew_refuse_release(cluster):
    first = lock(cluster, "run-a", "lock-1")
    assert first.returncode == 0, first.stdout[-2000:]
    assert first.result["outcome"] == "create" and first.result["changed"] is True
    assert lease(cluster, "lock-1")["spec"]["holderIdentity"] == "run-a"

    again = lock(cluster, "run-a", "lock-1")
    assert again.result["outcome"] == "renew"

    other = lock(cluster, "run-b", "lock-1")
    assert other.returncode != 0
    assert "Another run holds the lock mlflow/lock-1: holder 'run-a'" in other.result["msg"]
    assert "force=true" in other.result["msg"]
    assert lease(cluster, "lock-1")["spec"]["holderIdentity"] == "run-a"

    not_ours = lock(cluster, "run-b", "lock-1", state="absent")
    assert not_ours.result["outcome"] == "not_ours" and not_ours.result["changed"] is False
    assert lease(cluster, "lock-1") is not None

    released = lock(cluster, "run-a", "lock-1", state="absent")
    assert released.result["outcome"] == "delete" and released.result["changed"] is True
    assert lease(cluster, "lock-1") is None


def test_check_mode_writes_nothing(cluster):
    run = lock(cluster, "run-a", "lock-check", check=True)
    assert run.returncode == 0 and run.result["outcome"] == "create"
    assert lease(cluster, "lock-check") is None


@pytest.mark.parametrize("steps", [
    [("run-a", "present")],                         # create
    [("run-a", "present"), ("run-a", "present")],   # renew
    [("run-a", "present"), ("run-b", "absent")],    # not ours: left in place
    [("run-a", "present"), ("run-a", "absent")],    # delete
    [("run-a", "absent")],                          # nothing to release
])
def test_check_mode_predicts_the_real_run(cluster, steps):
    """Check mode's `changed` and outcome are the real run's, and its writes (server-side dry runs) store nothing."""
    name = "lock-predict-%s" % uuid.uuid4().hex[:8]
    *before, (holder, state) = steps
    for earlier_holder, earlier_state in before:
        assert lock(cluster, earlier_holder, name, state=earlier_state).returncode == 0
    stored = lease(cluster, name)
    predicted = lock(cluster, holder, name, check=True, state=state)
    assert lease(cluster, name) == stored, "check mode changed the Lease"
    real = lock(cluster, holder, name, state=state)
    assert predicted.returncode == real.returncode == 0, (predicted.stdout[-1500:], real.stdout[-1500:])
    assert (predicted.result["changed"], predicted.result["outcome"]) == (real.result["changed"], real.result["outcome"])


def test_stale_lock_is_taken_over_and_force_overrides_a_live_one(cluster):
    assert lock(cluster, "dead-run", "lock-2", duration_seconds=1).returncode == 0
    time.sleep(2)
    taken = lock(cluster, "run-c", "lock-2")
    assert taken.returncode == 0 and taken.result["outcome"] == "take_over"
    assert lease(cluster, "lock-2")["spec"]["leaseTransitions"] == 1

    forced = lock(cluster, "run-d", "lock-2", force=True)
    assert forced.returncode == 0 and forced.result["outcome"] == "take_over"
    assert lease(cluster, "lock-2")["spec"]["holderIdentity"] == "run-d"


def test_two_runs_racing_for_the_lock_cannot_both_win(cluster):
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda holder: lock(cluster, holder, "lock-race"), ["racer-1", "racer-2"]))
    winners = [run for run in runs if run.returncode == 0]
    assert len(winners) == 1, [run.result.get("msg") for run in runs]
    loser = next(run for run in runs if run.returncode != 0)
    assert "holds the lock" in loser.result["msg"] or "at the same moment" in loser.result["msg"]
    assert lease(cluster, "lock-race")["spec"]["holderIdentity"] == winners[0].result["lease"]["holder"]
