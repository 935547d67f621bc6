"""Playbook runs that must leave an installation as they found it, on one installation this module deploys once:
a second deploy.yml (no change) and its --check, upgrades refused before any change, recover.yml refusing a target
outside the recovery window, a drill that restores elsewhere, the backup check, and every playbook refused in its
preflight when a grant is missing; last, an upgrade to the next version, then a recovery and the decommission of
the cluster it superseded.

It runs on plain Kubernetes (the sandbox's `kubernetes` flavour: no OpenShift API group is served, the chart
renders an Ingress, docs/kubernetes.md) with prebuilt images pinned by digest (mlflow.image.repository and
mlflow.image.digests): every flow here must do without routes, builds, image streams, templates and projects. The
last tests upgrade it, the image of the new version coming from the digest map, then recover it.

The installation is run the least-privileged way docs/rbac.md describes: a cluster admin runs rbac.yml once, and
every playbook here runs as its ServiceAccount, bound by a Role in the MLflow namespace and the drill namespace only
(Kubernetes RBAC as kube-apiserver evaluates it: docs/sandbox.md "Identities and authorization").

Each test here but the last two only reads the installation or must not change it (several assert it); that is why
they can share one, deployed by deploy.yml in the `installation` fixture (whose run must succeed). A test that
breaks an installation deploys its own, in another module. The scheduler keeps this module on one
worker, its tests in this order (tests/support/scheduling.py)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.sandbox_flows import (PREBUILT_DIGESTS, PREBUILT_REPOSITORY, Sandbox, assert_ok, changed_tasks,
                                     failure_message, wait_for_base_backup)

pytestmark = pytest.mark.slow
VERSION = "3.5.0"
NEXT = "3.5.1"  # no schema change from VERSION: a rolling update
# A request line of the API server's log (handler.py) on an OpenShift group's path.
OPENSHIFT_REQUEST = re.compile(r" (GET|POST|PUT|PATCH|DELETE|HEAD) (/apis/[a-z.]+\.openshift\.io\S*)")


@pytest.fixture(name="sandbox", scope="module")
def fixture_plain_kubernetes(k8s_sandbox: Sandbox) -> Sandbox:
    """This module's sandbox stands for plain Kubernetes."""
    return k8s_sandbox


def server_image(sandbox: Sandbox, namespace: str) -> str:
    deployment = sandbox.kubectl_json("deployment", "mlflow", "-n", namespace)
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def openshift_requests(sandbox: Sandbox) -> list[str]:
    """Every request on an OpenShift API path the sandbox was sent (it logs each one)."""
    log = (sandbox.cluster.state_dir / "apiserver.log").read_text(encoding="utf-8", errors="replace")
    return [match.group(2) for match in OPENSHIFT_REQUEST.finditer(log)]


@pytest.fixture(name="installation", scope="module")
def fixture_installation(sandbox: Sandbox) -> Iterator[str]:
    """The namespace of MLflow VERSION deployed by deploy.yml, with its first base backup completed."""
    namespace = f"e2e-shared-{uuid.uuid4().hex[:6]}"
    # Backups through the store's in-cluster name, which only pods resolve (an in-cluster MinIO): the recovery's
    # refusals and the drill read the catalog with a Job inside the cluster (runtime/s3.py, runtime/network.py).
    sandbox.use_in_cluster_store(namespace)
    assert_ok(sandbox.playbook("rbac", namespace, extra_vars={"rbac_drill_namespace": drill_namespace(namespace)}))
    sandbox.act_as_service_account(namespace)
    deployed = sandbox.deploy(namespace, VERSION)
    assert_ok(deployed)
    # The preflight did not ask for what this cluster does not serve, and said so.
    skipped = [r["skipped_unserved"] for r in deployed.task_results() if r.get("skipped_unserved")]
    assert skipped and {"route.openshift.io", "build.openshift.io"} <= {item["group"] for item in skipped[0]}
    wait_for_base_backup(sandbox, namespace)
    yield namespace
    sandbox.delete_namespace(namespace)
    sandbox.delete_namespace(drill_namespace(namespace))


def drill_namespace(namespace: str) -> str:
    """The namespace rbac.yml provides for drills: the identity may not create namespaces."""
    return f"{namespace}-drill"


def test_deploy_twice_changes_nothing_the_second_time_and_check_mode_is_inert(sandbox: Sandbox, installation: str):
    namespace = installation  # the first deploy.yml run is the fixture's, which asserts it succeeded
    assert sandbox.mlflow(namespace).version_string() == VERSION  # through the Ingress host
    assert server_image(sandbox, namespace) == f"{PREBUILT_REPOSITORY}:v{VERSION}@{PREBUILT_DIGESTS[VERSION]}"
    ingress = sandbox.kubectl_json("ingress", "mlflow", "-n", namespace)
    assert ingress["status"]["loadBalancer"]["ingress"][0]["ip"] == sandbox.route_address(sandbox.host(namespace))

    second = sandbox.deploy(namespace, VERSION)
    assert_ok(second)
    assert changed_tasks(second) == []

    before = sandbox.snapshot()
    checked = sandbox.deploy(namespace, VERSION, check=True, diff=True)
    assert_ok(checked)
    assert sandbox.snapshot() == before


def test_a_bad_tag_and_a_downgrade_are_refused_before_anything_changes(sandbox: Sandbox, installation: str):
    namespace = installation
    before = sandbox.snapshot()
    bad = sandbox.run("upgrade", namespace, VERSION, extra_vars={"mlflow_tag": "latest"})
    assert bad.returncode != 0 and "is not an MLflow release version" in failure_message(bad)
    down = sandbox.run("upgrade", namespace, VERSION, extra_vars={"mlflow_tag": "3.4.0"})
    assert down.returncode != 0 and "MLflow schemas cannot be" in failure_message(down)
    assert sandbox.snapshot() == before


def test_recover_refuses_a_target_outside_the_window_before_changing_anything(sandbox: Sandbox, installation: str):
    namespace = installation
    before = sandbox.snapshot()
    too_early = sandbox.run("recover", namespace, VERSION, extra_vars={"recovery_target_time": "2020-01-01T00:00:00Z"})
    assert too_early.returncode != 0
    assert "first recoverability point" in failure_message(too_early)
    naive = sandbox.run("recover", namespace, VERSION, extra_vars={"recovery_target_time": "2026-01-01T00:00:00"})
    assert naive.returncode != 0 and "zone" in failure_message(naive)
    # The backups were taken by the operator's default, PostgreSQL 18; CNPG restores only into the same major
    # (docs/src/bootstrap.md), so an image of 17 would leave the new cluster never ready: refused first.
    other_major = sandbox.run("recover", namespace, VERSION, extra_vars={
        "recovery_postgresql_image": "ghcr.io/cloudnative-pg/postgresql:17.6-standard-trixie"})
    assert other_major.returncode != 0
    assert "was taken by PostgreSQL 18, and the new cluster's image ghcr.io/cloudnative-pg/postgresql:17.6-standard-" \
        "trixie runs PostgreSQL 17" in failure_message(other_major)
    assert sandbox.snapshot() == before


def test_drill_restores_elsewhere_reports_rto_rpo_and_cleans_up(sandbox: Sandbox, installation: str, tmp_path: Path):
    namespace = installation
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("drill")
    client.log_run(experiment, "after-the-base-backup")
    # No manual pg_switch_wal(): the drill writes its marker and archives production's newest writes itself.
    production = {key: value for key, value in sandbox.snapshot().items() if key[1] == namespace}
    s3_before = sorted(o["Key"] for o in sandbox.s3().list_objects_v2(Bucket="mlflow-backups",
                                                                      Prefix=f"{namespace}/")["Contents"])

    # No Route to read the restored copy's URL from, and the drill never renders production's Ingress host: without a
    # host of its own the drill is refused before any change.
    unreachable = sandbox.run("recovery_drill", namespace, VERSION, extra_vars={
        "drill_report_dir": str(tmp_path), "drill_namespace": drill_namespace(namespace)})
    assert unreachable.returncode != 0
    assert "give the drill release an Ingress host of its own" in failure_message(unreachable)
    assert {key: value for key, value in sandbox.snapshot().items() if key[1] == namespace} == production
    # The inventory gives the drill release its own Ingress host.
    drill_host = sandbox.host(drill_namespace(namespace))
    drill = sandbox.run("recovery_drill", namespace, VERSION, extra_vars={
        "drill_report_dir": str(tmp_path), "drill_namespace": drill_namespace(namespace),
        "mlflow_drill_values": {"ingress": {"host": drill_host}}, "mlflow_drill_url": f"http://{drill_host}"})
    assert_ok(drill)
    assert "backup catalog read inside the cluster, by a Job" in drill.stdout
    report = json.loads(next(tmp_path.glob("drill-*.json")).read_text())
    assert report["result"] == "passed"
    assert report["rto_seconds"] > 0
    # The last run's WAL was archived before the drill: a real recovery would lose nothing.
    assert report["rpo_basis"] == "production's newest run"
    assert report["rpo_seconds"] == 0
    assert report["wal_replayed_past_base_backup"] is True
    assert report["wal_replay_proof"].startswith("a marker written into production")
    assert report["runs"] == 1
    # The provided namespace stays, emptied: no release, no cluster, no store, nothing the drill copied in.
    assert report["drill_namespace"] == drill_namespace(namespace)
    left = {key for key in sandbox.snapshot() if key[1] == drill_namespace(namespace) and key[0] != "namespaces"}
    assert {key[0] for key in left} <= {"configmaps"}, left  # kube-root-ca.crt, which every namespace has
    assert {key: value for key, value in sandbox.snapshot().items() if key[1] == namespace} == production
    s3_after = sorted(o["Key"] for o in sandbox.s3().list_objects_v2(Bucket="mlflow-backups",
                                                                     Prefix=f"{namespace}/")["Contents"])
    assert [key for key in s3_after if key not in s3_before and "/wals/" not in key] == []
    assert not [key for key in s3_after if "-drill/" in key], "the drill archived into the backup store"


def test_backup_check_passes_on_a_healthy_cluster(sandbox: Sandbox, installation: str):
    namespace = installation
    checked = sandbox.run("backup_check", namespace, VERSION)
    assert_ok(checked)
    stale = sandbox.run("backup_check", namespace, VERSION, extra_vars={"mlflow_backup_max_age_hours": 0})
    assert stale.returncode != 0 and "the newest base backup is" in failure_message(stale)


def test_every_playbook_refuses_in_its_preflight_when_a_grant_is_missing(sandbox: Sandbox, installation: str):
    """A Role without the lock (Leases) and pods/exec: each playbook that needs them stops before any change,
    naming every missing permission (SelfSubjectAccessReviews, as `kubectl auth can-i` asks); one that needs
    neither still runs. rbac.yml puts the grants back."""
    namespace = installation
    role = sandbox.cluster.get("roles.rbac.authorization.k8s.io", "mlops-mlflow-automation", "-n", namespace)
    rules = [rule for rule in role["rules"]
             if rule["apiGroups"] != ["coordination.k8s.io"] and "pods/exec" not in rule["resources"]]
    assert len(rules) == len(role["rules"]) - 2
    sandbox.cluster.kubectl("patch", "roles.rbac.authorization.k8s.io", "mlops-mlflow-automation", "-n", namespace,
                            "--type=json", "-p", json.dumps([{"op": "replace", "path": "/rules", "value": rules}]))
    before = sandbox.snapshot()
    lease = [f"{verb} leases.coordination.k8s.io in {namespace}" for verb in ("get", "create", "update", "delete")]
    exec_ = [f"{verb} pods/exec in {namespace}" for verb in ("get", "create")]
    for playbook, extra, missing in [
            ("deploy", {}, lease),
            ("upgrade", {"mlflow_tag": "3.5.1"}, lease),
            ("recover", {}, lease + exec_),
            ("decommission", {"decommission_cluster": "pg-cluster-v0", "decommission_confirm": "pg-cluster-v0"}, lease)]:
        refused = sandbox.run(playbook, namespace, VERSION, extra_vars=extra)
        message = failure_message(refused)
        assert refused.returncode != 0, message
        assert f"lacks {len(missing)} permission(s) that {playbook} needs" in message, message
        for permission in missing:
            assert permission in message, message
        assert "nothing was changed" in message and "playbooks/rbac.yml" in message
    assert sandbox.snapshot() == before
    assert_ok(sandbox.run("backup_check", namespace, VERSION))

    granted = sandbox.playbook("rbac", namespace, admin=True,
                               extra_vars={"rbac_drill_namespace": drill_namespace(namespace)})
    assert_ok(granted)
    assert sandbox.cluster.get("roles.rbac.authorization.k8s.io", "mlops-mlflow-automation", "-n", namespace)["rules"] \
        == role["rules"]


def test_upgrade_runs_the_pinned_image_of_the_new_version_and_keeps_every_run(sandbox: Sandbox, installation: str):
    """The last test: it changes the installation. The plan's read-only Job and the rollout run the image the chart
    resolves for NEXT from the digest map, as the ServiceAccount, without any OpenShift API."""
    namespace = installation
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("before-the-upgrade")
    client.log_run(experiment, "kept")
    upgraded = sandbox.run("upgrade", namespace, VERSION, extra_vars={"mlflow_tag": NEXT})
    assert_ok(upgraded)
    assert not any("Stop MLflow" in name for name in changed_tasks(upgraded))  # no schema change: rolling

    pinned = f"{PREBUILT_REPOSITORY}:v{NEXT}@{PREBUILT_DIGESTS[NEXT]}"
    assert server_image(sandbox, namespace) == pinned
    after = sandbox.mlflow(namespace)
    assert after.version_string() == NEXT
    assert [run["info"]["run_name"] for run in after.search_runs(experiment)] == ["kept"]
    # The plan's Job (deleted once read) was created with the pinned image: the API server's audit log has its body.
    audit = [json.loads(line) for line in
             (sandbox.cluster.state_dir / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    job_images = {container["image"] for entry in audit
                  if entry["verb"] == "POST" and entry["path"].startswith(f"/apis/batch/v1/namespaces/{namespace}/jobs")
                  for container in json.loads(entry["body"])["spec"]["template"]["spec"]["containers"]}
    assert pinned in job_images, job_images
    assert openshift_requests(sandbox) == []


def test_then_a_recovery_and_the_decommission_of_the_superseded_cluster(sandbox: Sandbox, installation: str):
    """After the upgrade: recover.yml (to the latest WAL) and decommission.yml, also as the ServiceAccount on plain
    Kubernetes, with the digest of the running version. Nothing asks an OpenShift API."""
    namespace = installation
    recovered = sandbox.run("recover", namespace, NEXT)
    assert_ok(recovered)
    assert "backup catalog read inside the cluster, by a Job" in recovered.stdout
    release = json.loads(sandbox.cluster.helm("get", "values", "mlflow", "-n", namespace, "-o", "json").stdout)
    assert release["postgresql"]["clusterName"] == "pg-cluster-v2"
    assert server_image(sandbox, namespace) == f"{PREBUILT_REPOSITORY}:v{NEXT}@{PREBUILT_DIGESTS[NEXT]}"
    client = sandbox.mlflow(namespace)
    experiment = client.call("GET", "experiments/get-by-name",
                             params={"experiment_name": "before-the-upgrade"})["experiment"]["experiment_id"]
    assert [run["info"]["run_name"] for run in client.search_runs(experiment)] == ["kept"]

    decommissioned = sandbox.playbook("decommission", namespace, extra_vars={
        "decommission_cluster": "pg-cluster-v1", "decommission_confirm": "pg-cluster-v1"})
    assert_ok(decommissioned)
    assert sandbox.cluster.kubectl("get", "clusters.postgresql.cnpg.io", "pg-cluster-v1", "-n", namespace,
                                   check=False).returncode != 0
    assert sandbox.mlflow(namespace).version_string() == NEXT
    assert openshift_requests(sandbox) == []
