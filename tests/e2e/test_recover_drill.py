"""recover.yml in the sandbox, on real backups in S3, and a drill in a project it asks for (OpenShift's
ProjectRequest) as the ServiceAccount; the drill into a provided namespace, the backup check and the refusals of
recover.yml run on the live scenarios' installation (tests/live)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from benchmarks.phases import task_timings
from tests.e2e.sandbox_flows import Sandbox, runs_around_a_target, wait_for_base_backup
from tests.sandbox.runtime_stack import Stack
from tests.support.ansible_run import assert_ok, changed_tasks, failure_message
from tests.support.prober import Prober

pytestmark = pytest.mark.slow
CLUSTER = "pg-cluster-v1"


def run_names(sandbox: Sandbox, namespace: str) -> list[str]:
    client = sandbox.mlflow(namespace)
    experiments = client.call("POST", "experiments/search", json={"max_results": 100})["experiments"]
    names = []
    for experiment in experiments:
        names += [run["info"]["run_name"] for run in client.search_runs(experiment["experiment_id"])]
    return sorted(names)


def instances(sandbox: Sandbox, namespace: str, cluster: str) -> dict:
    status = sandbox.kubectl_json("clusters.postgresql.cnpg.io", cluster, "-n", namespace)["status"]
    return {key: status.get(key) for key in ("phase", "instances", "readyInstances", "currentPrimary")}


def test_recover_to_a_time_between_two_runs_then_deploy_keeps_the_new_cluster(sandbox: Sandbox, namespace: str,
                                                                              tmp_path: Path):
    # An HA database (postgresql.instances: 3): CNPG restores the first instance, then clones the replicas from it.
    # Its backups go through the store's in-cluster name, which only pods resolve (an in-cluster MinIO): recover.yml
    # reads the catalog with a Job in the namespace, as barman-cloud reaches the store (runtime/s3.py).
    sandbox.use_in_cluster_store(namespace)
    # Every playbook here runs as the ServiceAccount rbac.yml grants (docs/rbac.md), with no cluster-wide right.
    assert_ok(sandbox.playbook("rbac", namespace))
    sandbox.act_as_service_account(namespace)
    values = sandbox.values(namespace, "3.5.0")
    values["postgresql"]["instances"] = 3
    inventory = {"mlflow_values": values}
    assert_ok(sandbox.deploy(namespace, "3.5.0", extra_vars=inventory))
    wait_for_base_backup(sandbox, namespace)
    # Before any run is logged: the drill's WAL switch must not archive the target below before recover.yml does.
    drill_in_a_project_it_asks_for(sandbox, namespace, inventory, tmp_path)
    target = runs_around_a_target(sandbox.mlflow(namespace), "recovery")
    # No manual pg_switch_wal(): with CNPG's archive_timeout of 5 minutes the target is not archived yet, and
    # recover.yml closes the primary's segment itself (through pods/exec) before it plans.

    # The app user keeps its credentials: the recovered cluster uses the old cluster's Secret (recovery.secretName,
    # CNPG's bootstrap.recovery.secret), and CNPG then creates no pg-cluster-v2-app (GetApplicationSecretName in
    # CNPG's api/v1/cluster_funcs.go). Every step that reads the app credentials must find that Secret.
    with Prober(sandbox.mlflow(namespace)) as prober:
        recovered = sandbox.run("recover", namespace, "3.5.0", extra_vars={
            **inventory, "recovery_target_time": target, "recovery_secret_name": f"{CLUSTER}-app"})
    assert_ok(recovered)
    served_while_restoring(recovered, prober)
    first_backup_after_the_verification(sandbox, namespace, recovered, "pg-cluster-v2")
    assert "backup catalog read inside the cluster, by a Job" in recovered.stdout
    assert instances(sandbox, namespace, "pg-cluster-v2") == {
        "phase": "Cluster in healthy state", "instances": 3, "readyInstances": 3, "currentPrimary": "pg-cluster-v2-1"}
    assert run_names(sandbox, namespace) == ["before-target"]
    release = json.loads(sandbox.cluster.helm("get", "values", "mlflow", "-n", namespace, "-o", "json").stdout)
    assert release["postgresql"]["clusterName"] == "pg-cluster-v2"
    assert release["recovery"]["serverName"] == CLUSTER
    assert release["recovery"]["secretName"] == f"{CLUSTER}-app"
    assert sandbox.cluster.kubectl("get", "secret", "pg-cluster-v2-app", "-n", namespace, check=False).returncode != 0
    # The old cluster (and its data) is still there, put to rest: CNPG's declarative hibernation (docs/src/
    # declarative_hibernation.md) stops its instances, so it no longer archives under its name; Helm kept it.
    old = sandbox.cluster.get("clusters.postgresql.cnpg.io", CLUSTER, "-n", namespace)
    assert old["metadata"]["annotations"]["cnpg.io/hibernation"] == "on"
    # The recovered cluster has a base backup of its own before the play reports success: backups are green at once.
    assert_ok(sandbox.run("backup_check", namespace, "3.5.0"))

    # The inventory still says pg-cluster-v1: a later deploy must keep the recovered cluster.
    redeployed = sandbox.deploy(namespace, "3.5.0", extra_vars=inventory)
    assert_ok(redeployed)
    release = json.loads(sandbox.cluster.helm("get", "values", "mlflow", "-n", namespace, "-o", "json").stdout)
    assert release["postgresql"]["clusterName"] == "pg-cluster-v2"
    assert run_names(sandbox, namespace) == ["before-target"]

    decommission_refusals_then_the_superseded_cluster_goes(sandbox, namespace)
    recover_with_the_primary_stopped(sandbox, namespace, inventory)

    # The recovered clusters keep the app user in the Secret the recovery named (pinned in the release): the
    # upgrade's Jobs connect with it (PGUSER/PGPASSWORD from that Secret), not with a <cluster>-app that is not there.
    upgraded = sandbox.run("upgrade", namespace, "3.5.0", extra_vars={**inventory, "mlflow_tag": "3.5.1"})
    assert_ok(upgraded)
    assert sandbox.mlflow(namespace).version_string() == "3.5.1"
    assert run_names(sandbox, namespace) == ["archived-at-shutdown", "before-target"]


def served_while_restoring(recovered, prober: Prober) -> None:
    """To a past time MLflow serves from the old cluster while the new one restores (recovery_serve_during_restore),
    then a rolling update moves it onto the recovered cluster (the chart's RollingUpdate, maxUnavailable 0: the
    Deployment controller keeps the old pods until the new ones are available): no probe failed, before, during or
    after the restore, and MLflow was never stopped."""
    assert "MLflow keeps serving from pg-cluster-v1 while pg-cluster-v2 restores" in recovered.stdout
    timings = task_timings(recovered.report)
    names = [name for name, _start, _end in timings]
    assert not [name for name in names if name.startswith("Helm release - Stop MLflow")], names
    assert "Helm release - Roll MLflow onto the recovered database (its pods serve until the new ones are Ready)" \
        in names, names
    wall_minus_monotonic = time.time() - time.monotonic()
    (start, end), = [(start, end) for name, start, end in timings if name.startswith("Wait for the Cluster to be Ready")]
    during = [ok for moment, ok in prober.results if start <= moment + wall_minus_monotonic <= end]
    assert during, "no probe during the restore"
    assert prober.failures == 0, f"{prober.failures} of {len(prober.results)} probes failed: {prober.errors[:3]}"


def first_backup_after_the_verification(sandbox: Sandbox, namespace: str, recovered, cluster: str) -> None:
    """The new cluster's first base backup is taken by the play once MLflow is verified, not by the ScheduledBackup
    at once (it would compete with MLflow's start): the release created the ScheduledBackup with `immediate: false`
    and put the values' `true` back afterwards, which CNPG ignores once the schedule has been checked
    (internal/controller/scheduledbackup_controller.go: an immediate backup only while status.lastCheckTime is
    unset). The cluster is marked recovered after the verification too."""
    timings = task_timings(recovered.report)
    (verified,) = [end for name, _start, end in timings if name == "Check no run is newer than the target time"]
    (marked,) = [start for name, start, _end in timings if name.startswith("Mark the new cluster as a finished")]
    (backup,) = [start for name, start, _end in timings
                 if name == "On-demand base backup through the Barman Cloud Plugin (post-recovery)"]
    assert verified <= marked <= backup, (verified, marked, backup)
    backups = [item for item in sandbox.kubectl_json("backups.postgresql.cnpg.io", "-n", namespace)["items"]
               if item["spec"]["cluster"]["name"] == cluster]
    assert [(item["metadata"]["name"], item["status"]["phase"]) for item in backups] == \
        [(f"{cluster}-recovered", "completed")], backups
    assert "cnpg.io/scheduled-backup" not in (backups[0]["metadata"].get("labels") or {})
    scheduled = sandbox.cluster.get("scheduledbackups.postgresql.cnpg.io", f"{cluster}-daily", "-n", namespace)
    assert scheduled["spec"]["immediate"] is True and scheduled["status"]["lastCheckTime"], scheduled
    marks = sandbox.cluster.get("clusters.postgresql.cnpg.io", cluster, "-n", namespace)["metadata"]["annotations"]
    assert marks["mlops.mlflow/recovered"] == "true"


def drill_in_a_project_it_asks_for(sandbox: Sandbox, namespace: str, inventory: dict, tmp_path: Path) -> None:
    """OpenShift: the drill asks for its namespace with a ProjectRequest (what `oc new-project` sends), as the
    ServiceAccount, which has no right on namespaces. self-provisioner is bound to people, not ServiceAccounts
    (openshift-apiserver's bootstrap policy): refused, naming that grant, before any change; once rbac.yml gives it,
    the drill restores into the project (its admin, with the drill's ClusterRole bound there) and deletes it."""
    variables = {**inventory, "drill_report_dir": str(tmp_path),
                 "mlflow_drill_values": {"postgresql": {"instances": 1}}}  # one restored instance is proof enough
    before = sandbox.snapshot()
    refused = sandbox.run("recovery_drill", namespace, "3.5.0", extra_vars=variables)
    message = failure_message(refused)
    assert refused.returncode != 0, message
    assert "create projectrequests.project.openshift.io at the cluster scope" in message, message
    assert "namespaces at the cluster scope" not in message, message
    assert sandbox.snapshot() == before

    assert_ok(sandbox.playbook("rbac", namespace, admin=True, extra_vars={"rbac_drill_project_requests": True}))
    drill = sandbox.run("recovery_drill", namespace, "3.5.0", extra_vars=variables)
    assert_ok(drill)
    assert "a project the drill asks for (ProjectRequest) and deletes afterwards" in drill.stdout
    report = json.loads(next(tmp_path.glob("drill-*.json")).read_text())
    assert report["result"] == "passed" and report["drill_namespace_mode"] == "project_request", report
    assert report["wal_replayed_past_base_backup"] is True, report
    # The project is gone (deleted as a Project by its requester), not left terminating for ever.
    deadline = time.monotonic() + 120
    while sandbox.cluster.kubectl("get", "namespace", report["drill_namespace"], check=False).returncode == 0:
        assert time.monotonic() < deadline, f"{report['drill_namespace']} is still there"
        time.sleep(1)


def decommission(sandbox: Sandbox, namespace: str, cluster: str, confirm: str = "", check: bool = False):
    return sandbox.playbook("decommission", namespace, check=check,
                            extra_vars={"decommission_cluster": cluster, "decommission_confirm": confirm})


def decommission_refusals_then_the_superseded_cluster_goes(sandbox: Sandbox, namespace: str):
    current = decommission(sandbox, namespace, "pg-cluster-v2", confirm="pg-cluster-v2")
    assert current.returncode != 0 and "is the cluster the release runs on" in failure_message(current)
    # pg-cluster-v2 keeps its app user in pg-cluster-v1-app, which CNPG owns through pg-cluster-v1.
    shared = decommission(sandbox, namespace, CLUSTER, confirm=CLUSTER)
    assert shared.returncode != 0 and "which belongs to pg-cluster-v1" in failure_message(shared)
    sandbox.cluster.kubectl("patch", "secret", f"{CLUSTER}-app", "-n", namespace, "--type=json",
                            "-p", '[{"op":"remove","path":"/metadata/ownerReferences"}]')
    unconfirmed = decommission(sandbox, namespace, CLUSTER)
    assert unconfirmed.returncode != 0 and "Confirm with -e decommission_confirm=pg-cluster-v1" in \
        failure_message(unconfirmed)
    predicted = decommission(sandbox, namespace, CLUSTER, check=True)
    assert_ok(predicted)
    assert "mlops.mlflow.decommission : Delete the superseded cluster" in changed_tasks(predicted)
    assert sandbox.cluster.get("clusters.postgresql.cnpg.io", CLUSTER, "-n", namespace)["metadata"]["name"] == CLUSTER

    assert_ok(decommission(sandbox, namespace, CLUSTER, confirm=CLUSTER))
    assert sandbox.cluster.kubectl("get", "clusters.postgresql.cnpg.io", CLUSTER, "-n", namespace,
                                   check=False).returncode != 0
    # The store stays: pg-cluster-v2 archives into it; and so does the app Secret it uses.
    assert sandbox.cluster.get("objectstores.barmancloud.cnpg.io", "mlflow-backups", "-n", namespace)
    assert sandbox.cluster.get("secret", f"{CLUSTER}-app", "-n", namespace)["metadata"]["name"] == f"{CLUSTER}-app"
    assert run_names(sandbox, namespace) == ["before-target"]
    again = decommission(sandbox, namespace, CLUSTER, confirm=CLUSTER)
    assert_ok(again)
    assert changed_tasks(again) == []


def recover_with_the_primary_stopped(sandbox: Sandbox, namespace: str, inventory: dict) -> None:
    """The source's primary is down (its cluster hibernated: no instance runs): no WAL switch is possible, so the
    plan states the newest recoverable point and that writes after it are lost, then recovers to it. A clean stop
    loses nothing: PostgreSQL's ShutdownXLOG (src/backend/access/transam/xlog.c) rotates the last WAL segment when
    archiving is on, and the archiver runs once more at the end of the shutdown, so the run written after the last
    switch is recovered (a crash, not a hibernation, is what leaves writes behind on the volume)."""
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("primary-stopped")
    # Right after a segment switch, archive_timeout (5 minutes) keeps the next write in the open segment until the
    # hibernation's shutdown archives it.
    Stack(sandbox.cluster, namespace).switch_wal_and_wait_archived("pg-cluster-v2")
    client.log_run(experiment, "archived-at-shutdown")
    sandbox.cluster.kubectl("annotate", "clusters.postgresql.cnpg.io", "pg-cluster-v2", "-n", namespace,
                            "cnpg.io/hibernation=on")
    deadline = time.monotonic() + 120
    while instances(sandbox, namespace, "pg-cluster-v2")["phase"] != "Cluster in hibernation":
        assert time.monotonic() < deadline, instances(sandbox, namespace, "pg-cluster-v2")
        time.sleep(1)
    # The person on call stops the failing MLflow by hand, as the manual runbook scales it: `kubectl scale` makes
    # kubectl an owner of spec.replicas (managedFields, through /scale). Helm 4 applies the release server-side, and
    # an apply that changes a field another manager owns is a conflict (Kubernetes "Server-Side Apply",
    # Conflicts): the release that starts MLflow again must take the field back (--force-conflicts).
    sandbox.cluster.kubectl("scale", "deployment/mlflow", "-n", namespace, "--replicas=0")

    recovered = sandbox.run("recover", namespace, "3.5.0", extra_vars=inventory)
    assert_ok(recovered)
    assert "replica count was last set outside its release, by kubectl (Update through /scale)" in recovered.stdout
    deployment = sandbox.cluster.get("deployment", "mlflow", "-n", namespace, "--show-managed-fields")
    assert deployment["spec"]["replicas"] == 1
    assert [entry["manager"] for entry in deployment["metadata"]["managedFields"]
            if "f:replicas" in (entry.get("fieldsV1") or {}).get("f:spec", {})] == ["helm"]
    assert "No WAL switch: " in recovered.stdout and "The newest recoverable point is the newest archived WAL (" \
        in recovered.stdout and "are lost" in recovered.stdout, recovered.stdout
    release = json.loads(sandbox.cluster.helm("get", "values", "mlflow", "-n", namespace, "-o", "json").stdout)
    assert release["postgresql"]["clusterName"] == "pg-cluster-v3"
    assert release["recovery"]["serverName"] == "pg-cluster-v2"
    assert run_names(sandbox, namespace) == ["archived-at-shutdown", "before-target"]
