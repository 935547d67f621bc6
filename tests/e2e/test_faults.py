"""Faults injected into real upgrades and recoveries in the sandbox: each run must fail with a clear message, lose
nothing (the runs logged before are still in the database, the old cluster is still there) and a rerun must
converge once the cause is gone.

The faults are real (a database user without the right to finish the migration is the fleet's failing
installation: test_fleet.py): the cluster's PostgreSQL shut
down while the migration waits inside its transaction (and, on a two-instance cluster, its primary's pod deleted
there: a failover to the replica), the API server and the object store refusing connections
(tests/e2e/faults.py puts a gate in front of them), a server option the new MLflow cannot start with, and the
playbook killed half-way through a recovery.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest

from sandbox.runtime.waiting import wait_for
from tests.e2e import faults
from tests.e2e.sandbox_flows import Sandbox, runs_around_a_target, wait_for_base_backup
from tests.support.ansible_run import assert_ok, failure_message
from tests.support.prober import Prober
from tests.e2e.test_recover_drill import run_names
from tests.sandbox.runtime_stack import Stack

pytestmark = pytest.mark.slow
CLUSTER = "pg-cluster-v1"
# Short waits for a rollout that is meant to fail (the roles' defaults wait 15 minutes): 30 s, in which the new
# pod, that exits as soon as MLflow parses its options, has crashed several times.
SHORT_WAIT = {"upgrade_wait_retries": 6, "upgrade_wait_delay": 5}


def seed(sandbox: Sandbox, namespace: str) -> list[str]:
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("faults")
    for index in range(3):
        client.log_run(experiment, f"run-{index}", params={"lr": str(index)})
    return run_names(sandbox, namespace)


def app_user(sandbox: Sandbox, namespace: str, cluster: str = CLUSTER) -> str:
    data = sandbox.cluster.get("secret", f"{cluster}-app", "-n", namespace)["data"]
    return base64.b64decode(data["username"]).decode()


def stored_runs(sandbox: Sandbox, namespace: str, cluster: str = CLUSTER) -> list[str]:
    """The run names the database holds (read as the operator would, whether MLflow runs or not)."""
    rows = faults.superuser(sandbox, namespace, cluster, "SELECT name FROM runs ORDER BY name")
    return [row[0] for row in rows]


def serves(sandbox: Sandbox, namespace: str, version: str, runs: list[str], timeout: float = 300) -> None:
    """MLflow answers on `version` and serves every run in `runs`."""
    def check() -> bool:
        return sandbox.mlflow(namespace).version_string() == version and run_names(sandbox, namespace) == runs
    wait_for(check, timeout, f"MLflow {version} serving {runs}", interval=2)


def release_values(sandbox: Sandbox, namespace: str) -> dict:
    return json.loads(sandbox.cluster.helm("get", "values", "mlflow", "-n", namespace, "-o", "json").stdout)


# --- upgrades ----------------------------------------------------------------------------------------------------

def test_a_new_version_that_never_starts_is_rolled_back_while_the_old_one_serves(sandbox: Sandbox, namespace: str):
    """Case 5: the new pods crash on a server option the new version does not know, so the rolling update never
    becomes ready. (Case 1, the migrate Job that fails for real, runs in the fleet: test_fleet.py, fleet-b.)"""
    assert_ok(sandbox.deploy(namespace, "3.5.0"))
    runs = seed(sandbox, namespace)

    # Case 5: a misspelt server option (--serve-artifact) in the inventory, rolled out with 3.5.1.
    broken = sandbox.values(namespace, "3.5.0")
    broken["mlflow"]["extraArgs"] = ["--serve-artifact"]
    builds_before = {item["metadata"]["uid"] for item in sandbox.kubectl_json(
        "builds.build.openshift.io", "-n", namespace)["items"]}
    with Prober(sandbox.mlflow(namespace), interval=0.5) as prober:
        crashed = faults.run(sandbox, "upgrade", namespace, broken, {"mlflow_tag": "3.5.1", **SHORT_WAIT})
    message = failure_message(crashed)
    assert crashed.returncode != 0
    assert "failed during rollout" in message and "did not become available" in message, message
    assert "put back to MLflow 3.5.0" in message and "Fix the cause and rerun" in message, message
    assert prober.failures == 0, f"MLflow stopped serving during the failed rollout: {prober.errors}"
    serves(sandbox, namespace, "3.5.0", runs, timeout=120)
    # The rollback renders the BuildConfig of 3.5.0 again, whose image exists: no build of it starts. (Helm deletes
    # the BuildConfig of 3.5.1, and with it, by their owner reference, its builds; the ImageStream tag v3.5.1 stays.)
    new_builds = [item["metadata"]["name"] for item in sandbox.kubectl_json(
        "builds.build.openshift.io", "-n", namespace)["items"] if item["metadata"]["uid"] not in builds_before]
    assert new_builds == [], new_builds

    # The rerun after the fix renders the BuildConfig of 3.5.1 again; its image exists, so nothing is rebuilt.
    assert_ok(sandbox.run("upgrade", namespace, "3.5.0", extra_vars={"mlflow_tag": "3.5.1"}))
    builds = sandbox.kubectl_json("builds.build.openshift.io", "-n", namespace)["items"]
    assert [b["metadata"]["name"] for b in builds if b["metadata"]["uid"] not in builds_before] == [], builds
    serves(sandbox, namespace, "3.5.1", runs, timeout=60)


def test_postgres_stopped_during_the_migration_then_the_api_unreachable_mid_upgrade(
        sandbox: Sandbox, namespace: str, tmp_path: Path):
    """Case 4: PostgreSQL is shut down while the migration waits inside its transaction (a table lock holds it
    there); the sandbox's CNPG controller starts it again. Case 4b: the same wait ended by a failover (the
    primary's pod deleted; the database has two instances). Case 2: the API server refuses connections while the
    migrate Job runs; the Job finishes in the cluster without the playbook."""
    values = sandbox.values(namespace, "3.4.0")
    values["postgresql"]["instances"] = 2  # a primary and a streaming replica, for the failover
    inventory = {"mlflow_values": values}
    assert_ok(sandbox.deploy(namespace, "3.4.0", extra_vars=inventory))
    runs = seed(sandbox, namespace)
    revision = faults.tracking_revision(sandbox, namespace, CLUSTER)

    with ThreadPoolExecutor(max_workers=1) as pool:
        upgrade = pool.submit(sandbox.run, "upgrade", namespace, "3.4.0",
                              extra_vars={**inventory, "mlflow_tag": "3.5.0"})
        # The table must be locked before the migration reaches it: the Job's pod takes seconds to import MLflow.
        faults.wait_while_running(lambda: not upgrade.done(), lambda: faults.migrate_jobs(sandbox, namespace), 900,
                                  "the migrate Job")
        holder = hold_table(sandbox, namespace, "evaluation_dataset_records")
        faults.wait_while_running(lambda: not upgrade.done(), lambda: migration_waiting(sandbox, namespace), 300,
                                  "the migration to wait for the table lock", interval=0.3)
        stopped = faults.stop_postgres(sandbox, namespace, CLUSTER)
        holder.join(timeout=30)
        failed = upgrade.result()
    message = failure_message(failed)
    assert failed.returncode != 0
    assert "failed during migrate" in message and "server closed the connection unexpectedly" in message, message
    # The helper reads the revisions again for up to 30 s (mlflow_migrate_runner.REREAD_SECONDS): when PostgreSQL
    # is back by then, no revision was applied and the image goes back; otherwise the message says they are
    # unknown and gives both ways out.
    assert "WERE applied" not in message, message
    if "could not be read again" in message:
        assert "rerun the upgrade" in message and "playbooks/recover.yml -e recovery_target_time=" in message, message
    else:
        assert "No revision was applied" in message and "playbooks/upgrade.yml -e mlflow_tag=3.5.0" in message, message
    wait_for(lambda: faults.postmaster_pid(sandbox, namespace, CLUSTER) not in (None, stopped), 120,
             "the CNPG controller to start PostgreSQL again")
    wait_for(lambda: stored_runs(sandbox, namespace) == runs, 60, "the runs in the restarted database")
    assert faults.tracking_revision(sandbox, namespace, CLUSTER) == revision  # the transaction rolled back

    # Case 4b: the primary's pod is deleted while the migration waits: CNPG promotes the replica and -rw leads to
    # it; the migration's session is gone with the old primary, so the upgrade fails as in case 4.
    with ThreadPoolExecutor(max_workers=1) as pool:
        upgrade = pool.submit(sandbox.run, "upgrade", namespace, "3.4.0",
                              extra_vars={**inventory, "mlflow_tag": "3.5.0"})
        holder = hold_table(sandbox, namespace, "evaluation_dataset_records")
        faults.wait_while_running(lambda: not upgrade.done(), lambda: migration_waiting(sandbox, namespace), 900,
                                  "the migration to wait for the table lock", interval=0.3)
        sandbox.cluster.kubectl("-n", namespace, "delete", "pod", f"{CLUSTER}-1", "--wait=false")
        holder.join(timeout=30)
        failed = upgrade.result()
    message = failure_message(failed)
    assert failed.returncode != 0
    assert "failed during migrate" in message and "server closed the connection unexpectedly" in message, message
    # The promoted replica answers within the helper's 30 s of reading again, as a rule; either way the message names
    # the rerun.
    assert "could not be read again" in message or "No revision was applied" in message, message
    assert "playbooks/upgrade.yml -e mlflow_tag=3.5.0" in message, message
    wait_for(lambda: cluster_instances(sandbox, namespace) == (f"{CLUSTER}-2", 2), 180,
             "the replica to be the primary and the old primary back as a replica")
    wait_for(lambda: stored_runs(sandbox, namespace) == runs, 60, "the runs after the failover")
    assert faults.tracking_revision(sandbox, namespace, CLUSTER) == revision  # rolled back on the new primary too

    rerun = sandbox.run("upgrade", namespace, "3.4.0", extra_vars={**inventory, "mlflow_tag": "3.5.0"})
    assert_ok(rerun)
    serves(sandbox, namespace, "3.5.0", runs, timeout=60)

    # Case 2: the API server refuses connections for 20 s once the upgrade to 3.17.2 has stopped MLflow (after the
    # Helm call: an outage in the middle of one leaves the release pending-upgrade, see docs/reliability.md).
    gate = faults.TcpGate.to_url(sandbox.cluster.server)
    kubeconfig = faults.gated_kubeconfig(sandbox, gate, tmp_path)
    env = {"KUBECONFIG": str(kubeconfig), "K8S_AUTH_KUBECONFIG": str(kubeconfig)}
    values = sandbox.values(namespace, "3.5.0")
    values["postgresql"]["instances"] = 2
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            upgrade = pool.submit(faults.run, sandbox, "upgrade", namespace, values, {"mlflow_tag": "3.17.2"}, env)
            faults.wait_while_running(
                lambda: not upgrade.done(),
                lambda: mlflow_stopped_by_helm(sandbox, namespace), 900, "MLflow to be stopped for the migration")
            gate.close()
            time.sleep(20)
            gate.open()
            failed = upgrade.result()
        if failed.returncode == 0:
            # The outage fell inside a wait (the wait for the stop, resource_wait; or the migrate Job's): there,
            # kubernetes.core's Waiter retries a refused connection, and the run goes on once the API answers. The
            # upgrade is then complete, with every run.
            assert stored_runs(sandbox, namespace) == runs
            serves(sandbox, namespace, "3.17.2", runs, timeout=60)
            return
        message = failure_message(failed)
        # A call outside a wait met the outage (the migrate Job's creation, a Helm call): which one decides between
        # "schema not changed" and "may have been migrated"; both name the rerun.
        assert message.startswith("The upgrade to MLflow 3.17.2 failed during"), message
        assert "playbooks/upgrade.yml -e mlflow_tag=3.17.2" in message, message
        assert stored_runs(sandbox, namespace) == runs
        rerun = faults.run(sandbox, "upgrade", namespace, values, {"mlflow_tag": "3.17.2"}, env)
        if rerun.returncode != 0 and "is pending-upgrade" in failure_message(rerun):
            # The outage cut a Helm call (the rollback's) half-way: the rerun refuses the pending release, and the
            # repair is by hand, as with the real Helm (docs/reliability.md, "Not yet covered").
            sandbox.cluster.helm("rollback", "mlflow", "-n", namespace)
            rerun = faults.run(sandbox, "upgrade", namespace, values, {"mlflow_tag": "3.17.2"}, env)
        assert_ok(rerun)
        serves(sandbox, namespace, "3.17.2", runs, timeout=60)
    finally:
        gate.shutdown()


def cluster_instances(sandbox: Sandbox, namespace: str) -> tuple[str, int] | None:
    """(currentPrimary, readyInstances) of a healthy Cluster, else None."""
    status = sandbox.cluster.get("clusters.postgresql.cnpg.io", CLUSTER, "-n", namespace).get("status") or {}
    if status.get("phase") != "Cluster in healthy state":
        return None
    return status.get("currentPrimary"), status.get("readyInstances")


def mlflow_stopped_by_helm(sandbox: Sandbox, namespace: str) -> bool:
    """The release at 0 replicas is recorded (the Helm call is over) and no MLflow pod is left."""
    releases = json.loads(sandbox.cluster.helm("list", "-n", namespace, "-o", "json").stdout)
    if not releases or releases[0]["status"] != "deployed":
        return False
    if release_values(sandbox, namespace)["mlflow"].get("replicas") != 0:
        return False
    return not Stack(sandbox.cluster, namespace).server_pods()


def hold_table(sandbox: Sandbox, namespace: str, table: str) -> threading.Thread:
    """A superuser session that locks `table` (ACCESS EXCLUSIVE) until PostgreSQL goes away: a migration that
    alters it waits there, inside its transaction."""
    locked = threading.Event()

    def hold() -> None:
        pod = sandbox.cluster.get("pod", f"{CLUSTER}-1", "-n", namespace)
        conn = psycopg2.connect(host=pod["metadata"]["annotations"]["sandbox.mlops.io/postgres-socket"], port=5432,
                                user="postgres", dbname="mlflow", connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                locked.set()
                while True:
                    cur.execute("SELECT pg_sleep(1)")
        except psycopg2.Error:
            pass  # the shutdown ended the session
        finally:
            conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert locked.wait(30), f"could not lock {table}"
    return thread


def migration_waiting(sandbox: Sandbox, namespace: str) -> bool:
    rows = faults.superuser(sandbox, namespace, CLUSTER,
                            "SELECT query FROM pg_stat_activity WHERE datname = 'mlflow' AND wait_event_type = 'Lock'")
    return any("ALTER TABLE" in row[0].upper() for row in rows)


# --- recoveries --------------------------------------------------------------------------------------------------

def test_recover_refuses_while_the_object_store_is_unreachable_then_converges(sandbox: Sandbox, namespace: str):
    """Case 3: the backups' S3 endpoint refuses connections during the recovery's preflight."""
    gate = faults.TcpGate.to_url(sandbox.info["s3"]["endpoint"])
    try:
        values = sandbox.values(namespace, "3.5.0")
        values["backup"]["s3"]["endpointURL"] = gate.url
        assert_ok(faults.run(sandbox, "deploy", namespace, values))
        wait_for_base_backup(sandbox, namespace)
        client = sandbox.mlflow(namespace)
        client.log_run(client.create_experiment("recovery"), "kept")
        Stack(sandbox.cluster, namespace).switch_wal_and_wait_archived(CLUSTER)

        before = sandbox.snapshot()
        gate.close()
        refused = faults.run(sandbox, "recover", namespace, values)
        message = failure_message(refused)
        assert refused.returncode != 0
        # The gate resets each connection. After the TLS handshake botocore says "Connection was closed" (the control
        # node's error); during it, "Could not connect" or an SSL EOF, and then the catalog Job tries from inside
        # the cluster and fails too: each way the message names the store first, and not as a certificate problem.
        expected = f"cannot read the object store s3://mlflow-backups/{namespace} at {gate.url}"
        assert message.startswith(expected), message
        assert "Check object_store.endpoint_url, the network" in message, message
        assert sandbox.snapshot() == before
        gate.open()

        assert_ok(faults.run(sandbox, "recover", namespace, values))
        assert run_names(sandbox, namespace) == ["kept"]
        assert release_values(sandbox, namespace)["postgresql"]["clusterName"] == "pg-cluster-v2"
        old = sandbox.cluster.get("clusters.postgresql.cnpg.io", CLUSTER, "-n", namespace)
        assert old["metadata"]["name"] == CLUSTER
    finally:
        gate.shutdown()


def test_a_recovery_killed_half_way_resumes_on_the_rerun(sandbox: Sandbox, namespace: str):
    """Case 6: the playbook (and its modules) killed while it waits for the recovered cluster. To a past time, so
    MLflow was still serving from the old cluster then: it keeps serving after the kill, and the rerun stops it,
    points basic-auth.ini at the new cluster and starts it there."""
    values = sandbox.values(namespace, "3.5.0")
    assert_ok(faults.run(sandbox, "deploy", namespace, values))
    wait_for_base_backup(sandbox, namespace)
    past = {"recovery_target_time": runs_around_a_target(sandbox.mlflow(namespace), "recovery", kept="kept")}

    process = faults.start_killable(sandbox, "recover", namespace, values, past)

    def recovery_started() -> bool:
        releases = json.loads(sandbox.cluster.helm("list", "-n", namespace, "-o", "json").stdout)
        return (releases and releases[0]["status"] == "deployed"
                and release_values(sandbox, namespace)["postgresql"]["clusterName"] == "pg-cluster-v2")
    faults.wait_while_running(lambda: process.poll() is None, recovery_started, 900, "the new cluster's release")
    faults.kill_group(process)
    # The run died while MLflow served from the old cluster: it still does, with everything written there.
    assert run_names(sandbox, namespace) == ["after-target", "kept"]

    rerun = faults.run(sandbox, "recover", namespace, values, past)
    message = failure_message(rerun)
    assert rerun.returncode != 0 and "Another run holds the lock" in message, message
    resumed = faults.run(sandbox, "recover", namespace, values, {**past, "mlflow_lock_force": True})
    assert_ok(resumed)
    assert run_names(sandbox, namespace) == ["kept"]
    assert release_values(sandbox, namespace)["postgresql"]["clusterName"] == "pg-cluster-v2"
    # On the recovered cluster now: the connection the release kept on the old one while it served is emptied.
    assert release_values(sandbox, namespace)["mlflow"]["database"] == {"host": "", "secretName": ""}
    clusters = [item["metadata"]["name"] for item in
                sandbox.cluster.get("clusters.postgresql.cnpg.io", "-n", namespace)["items"]]
    assert sorted(clusters) == [CLUSTER, "pg-cluster-v2"]
