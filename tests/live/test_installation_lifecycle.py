"""The life of one installation on the live target (docs/live-testing.md), through what a user has there only: the
Kubernetes API (exec included), the installation's URL, the object store with the inventory's credentials, and the
playbooks. Under `make test` the target is a plain-Kubernetes sandbox seen the same way (tests/live/conftest.py).

One installation, in a namespace of its own with its drill namespace, both removed afterwards (also on failure). It
is run the least-privileged way docs/rbac.md describes: the target's identity runs rbac.yml once, and every other
playbook runs as the automation ServiceAccount, bound by a Role in those two namespaces only.

In order (the scheduler keeps this module's tests on one worker, in this order: tests/support/scheduling.py): the
deploy, a second deploy (no change) and its --check (inert); refusals before any change (a bad tag, a downgrade,
recovery targets outside the window or of another PostgreSQL major, missing grants, a lock held by another run); the
drill (it restores elsewhere); the backup check; then the changes: an upgrade with a schema change that clients see
as one outage, a rolling upgrade watched by a prober with a second upgrade stopping at the lock, a recovery to a
time between two runs, the decommission of the superseded cluster; last, no secret in any output of all of it."""

from __future__ import annotations

import datetime
import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.live.inertness import assert_inert, run_texts, scheduled_backups, secret_forms, state
from tests.live.installation import Installation, wait_until
from tests.live.kube import Kube
from tests.live.target import Target
from tests.support.ansible_run import PlaybookRun, assert_ok, changed_tasks, failure_message
from tests.support.prober import Prober

pytestmark = pytest.mark.slow
LOCK = "mlops-mlflow-lock"  # the Lease the playbooks take (roles/common, common_lock_name)
ROLE = "mlops-mlflow-automation"  # the Role rbac.yml binds the automation ServiceAccount to


def checked_then_run(installation: Installation, playbook: str, check_vars: dict | None = None,
                     **extra_vars) -> PlaybookRun:
    """The playbook at -vvv --diff, first with --check - which must leave the namespaces' objects, the databases and
    the object store as they were - then for real. Returns the real run (its outputs join the secret scan)."""
    before = state(installation)
    checked = installation.playbook(playbook, check=True, diff=True, verbose=True,
                                    extra_vars={**extra_vars, **(check_vars or {})})
    assert_ok(checked)
    assert_inert(f"{playbook}.yml --check", before, state(installation), scheduled_backups(installation))
    real = installation.playbook(playbook, diff=True, verbose=True, extra_vars=extra_vars)
    assert_ok(real)
    assert len(real.stdout) + len(real.stderr) > 10000, f"{playbook}.yml: verbose output expected"
    return real


@pytest.fixture(name="installation", scope="module")
def fixture_installation(target: Target, admin: Kube, tmp_path_factory: pytest.TempPathFactory
                         ) -> Iterator[Installation]:
    """MLflow at the target's deploy version, deployed by deploy.yml as the automation identity, with its first base
    backup completed."""
    workdir = tmp_path_factory.mktemp("live")
    installation = Installation(target, admin, f"{target.namespace_prefix}-{uuid.uuid4().hex[:6]}", workdir)
    try:
        assert_ok(installation.playbook("rbac", admin=True))
        installation.act_as_automation()
        deployed = checked_then_run(installation, "deploy")  # the --check before anything was deployed
        assert_ok(deployed)
        if target.platform == "kubernetes":
            # The preflight did not ask for what this cluster does not serve, and said so.
            skipped = [r["skipped_unserved"] for r in deployed.task_results(target.installation)
                       if r.get("skipped_unserved")]
            assert skipped and {"route.openshift.io", "build.openshift.io"} <= {i["group"] for i in skipped[0]}
        installation.wait_for_base_backup()
        installation.secrets()  # the first cluster's password is remembered for the last test's scan
        yield installation
    finally:
        for namespace in (installation.namespace, installation.facts.get("drill_namespace")):
            if namespace:
                admin.delete_namespace(namespace)


def namespaces(installation: Installation) -> tuple[str, str]:
    return installation.namespace, installation.drill_namespace


def catalog_only_in_cluster(installation: Installation) -> bool:
    """The backup store's endpoint does not resolve here (an in-cluster MinIO): the playbooks must read its catalog
    with a Job inside the cluster."""
    host = urlsplit(installation.facts["values"]["backup"]["s3"].get("endpointURL") or "").hostname
    try:
        socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return bool(host)
    return False


def assert_serves(installation: Installation, version: str) -> None:
    """MLflow answers `version` at its URL, from the image the inventory pins for it (by digest where it gives one)."""
    assert installation.mlflow().version_string() == version
    image = installation.server_image()
    digest = (installation.facts["values"]["mlflow"]["image"].get("digests") or {}).get(version)
    assert image.endswith(f"@{digest}") if digest else f"v{version}" in image, image


def test_deploy_twice_changes_nothing_the_second_time_and_check_mode_is_inert(
        installation: Installation, target: Target, admin: Kube):
    assert_serves(installation, target.deploy_version)

    second = installation.playbook("deploy")
    assert_ok(second)
    assert changed_tasks(second) == []

    before = state(installation)
    assert_ok(installation.playbook("deploy", check=True, diff=True))
    assert_inert("deploy.yml --check (deployed)", before, state(installation), scheduled_backups(installation))


def test_a_bad_tag_and_a_downgrade_are_refused_before_anything_changes(installation: Installation, target: Target,
                                                                       admin: Kube):
    before = admin.snapshot(*namespaces(installation))
    bad = installation.playbook("upgrade", extra_vars={"mlflow_tag": "latest"})
    assert bad.returncode != 0 and "is not an MLflow release version" in failure_message(bad)
    major, minor = (int(part) for part in target.deploy_version.split(".")[:2])
    older = f"{major}.{minor - 1}.0" if minor else f"{major - 1}.0.0"
    down = installation.playbook("upgrade", extra_vars={"mlflow_tag": older})
    assert down.returncode != 0 and "MLflow schemas cannot be" in failure_message(down)
    assert admin.snapshot(*namespaces(installation)) == before


def test_recover_refuses_a_target_outside_the_window_before_changing_anything(installation: Installation,
                                                                              admin: Kube):
    before = admin.snapshot(*namespaces(installation))
    too_early = installation.playbook("recover", extra_vars={"recovery_target_time": "2020-01-01T00:00:00Z"})
    assert too_early.returncode != 0
    assert "first recoverability point" in failure_message(too_early)
    naive = installation.playbook("recover", extra_vars={"recovery_target_time": "2026-01-01T00:00:00"})
    assert naive.returncode != 0 and "zone" in failure_message(naive)
    # CNPG restores only into the PostgreSQL major the backups were taken by (docs/src/bootstrap.md): an image of
    # another major would leave the new cluster never ready, so it is refused first.
    cluster = admin.get("postgresql.cnpg.io/v1", "Cluster", installation.cluster_name(), installation.namespace)
    running = int(re.search(r"postgresql:(\d+)", cluster["status"]["image"]).group(1))
    other = running - 1
    image = f"ghcr.io/cloudnative-pg/postgresql:{other}.6-standard-trixie"
    other_major = installation.playbook("recover", extra_vars={"recovery_postgresql_image": image})
    assert other_major.returncode != 0
    assert (f"was taken by PostgreSQL {running}, and the new cluster's image {image} runs PostgreSQL {other}"
            in failure_message(other_major))
    assert admin.snapshot(*namespaces(installation)) == before


def test_every_playbook_refuses_in_its_preflight_when_a_grant_is_missing(
        installation: Installation, target: Target, admin: Kube):
    """A Role without the lock (Leases) and pods/exec: each playbook that needs them stops before any change,
    naming every missing permission (SelfSubjectAccessReviews, as `kubectl auth can-i` asks); one that needs
    neither still runs. rbac.yml puts the grants back."""
    namespace = installation.namespace
    role = admin.get("rbac.authorization.k8s.io/v1", "Role", ROLE, namespace)
    rules = [rule for rule in role["rules"]
             if rule["apiGroups"] != ["coordination.k8s.io"] and "pods/exec" not in rule["resources"]]
    assert len(rules) == len(role["rules"]) - 2
    admin.patch("rbac.authorization.k8s.io/v1", "Role", ROLE, namespace,
                [{"op": "replace", "path": "/rules", "value": rules}])
    before = admin.snapshot(*namespaces(installation))
    lease = [f"{verb} leases.coordination.k8s.io in {namespace}" for verb in ("get", "create", "update", "delete")]
    exec_ = [f"{verb} pods/exec in {namespace}" for verb in ("get", "create")]
    for playbook, extra, missing in [
            ("deploy", {}, lease),
            ("upgrade", {"mlflow_tag": target.next_version}, lease),
            ("recover", {}, lease + exec_),
            ("decommission", {"decommission_cluster": "pg-cluster-v0", "decommission_confirm": "pg-cluster-v0"},
             lease)]:
        refused = installation.playbook(playbook, extra_vars=extra)
        message = failure_message(refused)
        assert refused.returncode != 0, message
        assert f"lacks {len(missing)} permission(s) that {playbook} needs" in message, message
        for permission in missing:
            assert permission in message, message
        assert "nothing was changed" in message and "playbooks/rbac.yml" in message
    assert admin.snapshot(*namespaces(installation)) == before
    assert_ok(installation.playbook("backup_check"))

    assert_ok(installation.playbook("rbac", admin=True))
    assert admin.get("rbac.authorization.k8s.io/v1", "Role", ROLE, namespace)["rules"] == role["rules"]


def test_a_lock_another_run_holds_stops_every_changing_playbook(installation: Installation, target: Target,
                                                                admin: Kube):
    """A Lease held by someone else and not expired: deploy and upgrade stop at it, naming its holder, and leave
    everything as it was (the lock included)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    admin.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                  "metadata": {"name": LOCK, "namespace": installation.namespace},
                  "spec": {"holderIdentity": "someone-else/recover/2026", "leaseDurationSeconds": 3600,
                           "acquireTime": now, "renewTime": now}})
    try:
        before = admin.snapshot(*namespaces(installation))
        for playbook, extra in (("deploy", {}), ("upgrade", {"mlflow_tag": target.next_version})):
            stopped = installation.playbook(playbook, extra_vars=extra)
            message = failure_message(stopped)
            assert stopped.returncode != 0, message
            assert "Another run holds the lock" in message and "someone-else/recover/2026" in message, message
        assert admin.snapshot(*namespaces(installation)) == before
    finally:
        admin.delete("coordination.k8s.io/v1", "Lease", LOCK, installation.namespace)


def test_drill_restores_elsewhere_reports_rto_rpo_and_cleans_up(installation: Installation, target: Target,
                                                                admin: Kube, tmp_path: Path):
    client = installation.mlflow()
    experiment = client.create_experiment("drill")
    client.log_run(experiment, "after-the-base-backup")
    # No manual pg_switch_wal(): the drill writes its marker and archives production's newest writes itself.
    production = admin.snapshot(installation.namespace)
    drill_namespace = admin.snapshot(installation.drill_namespace)
    archive_before = installation.backup_objects()

    if target.platform == "kubernetes":
        # No Route to read the restored copy's URL from, and the drill never renders production's Ingress host:
        # without a host of its own the drill is refused before any change.
        unreachable = installation.playbook("recovery_drill", extra_vars={
            "drill_report_dir": str(tmp_path), "mlflow_drill_values": {}, "mlflow_drill_url": None})
        assert unreachable.returncode != 0
        assert "give the drill release an Ingress host of its own" in failure_message(unreachable)
        assert admin.snapshot(installation.namespace) == production

    drill = checked_then_run(installation, "recovery_drill", check_vars={"drill_report_dir": str(tmp_path / "check")},
                             drill_report_dir=str(tmp_path))
    assert not list(tmp_path.glob("check/drill-*.json")), "recovery_drill.yml --check wrote a drill report"
    assert_ok(drill)
    if catalog_only_in_cluster(installation):
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
    # The provided namespace is left as it was found: no release, cluster, store or copied Secret stays.
    assert report["drill_namespace"] == installation.drill_namespace
    assert admin.snapshot(installation.drill_namespace) == drill_namespace
    assert admin.snapshot(installation.namespace) == production
    archive_after = installation.backup_objects()
    assert [key for key in archive_after if key not in archive_before and "/wals/" not in key] == []
    assert not [key for key in archive_after if "-drill/" in key], "the drill archived into the backup store"


def test_backup_check_passes_on_a_healthy_cluster(installation: Installation):
    assert_ok(checked_then_run(installation, "backup_check"))
    stale = installation.playbook("backup_check", extra_vars={"mlflow_backup_max_age_hours": 0})
    assert stale.returncode != 0 and "the newest base backup is" in failure_message(stale)


def test_an_upgrade_with_a_schema_change_keeps_every_run_and_clients_see_one_outage(
        installation: Installation, target: Target):
    """A version whose schema differs: MLflow is stopped for the migration (domain.md: never migrate under a running
    server) and started on the new schema. A prober through the URL sees exactly one outage, from the stop to the
    new server's first answer, and every probe after it succeeds; every run is kept."""
    if not target.schema_change_version:
        pytest.skip("the target names no version with a schema change (versions.schema_change)")
    client = installation.mlflow()
    experiment = client.create_experiment("before-the-migration")
    for index in range(3):
        client.log_run(experiment, f"run-{index}", params={"lr": str(index)}, metrics={"loss": 1.0 / (index + 1)})
    upgrade = {"mlflow_tag": target.schema_change_version}
    before = state(installation)
    assert_ok(installation.playbook("upgrade", check=True, diff=True, verbose=True, extra_vars=upgrade))
    assert_inert("upgrade.yml --check", before, state(installation), scheduled_backups(installation))
    with Prober(installation.mlflow()) as prober:
        upgraded = installation.playbook("upgrade", diff=True, verbose=True, extra_vars=upgrade)
        wait_until(lambda: prober.results and prober.results[-1][1], 60, "a probe to succeed after the upgrade")
    assert_ok(upgraded)
    assert any("Stop MLflow" in name for name in changed_tasks(upgraded)), changed_tasks(upgraded)
    assert_serves(installation, target.schema_change_version)
    assert client.run_names(experiment) == ["run-0", "run-1", "run-2"]
    outages = prober.outages()
    assert len(outages) == 1, (f"{len(outages)} outages ({[round(end - start, 1) for start, end in outages]} s): "
                               f"{prober.errors[:5]}")
    assert prober.results[0][1] and prober.results[-1][1]


def test_a_rolling_upgrade_serves_throughout_and_a_second_upgrade_stops_at_the_lock(installation: Installation,
                                                                                    target: Target, admin: Kube):
    """No schema change between the two versions: a rolling update, which no client sees (a prober through the
    URL), while a second upgrade started meanwhile stops at the lock. Every run is kept."""
    client = installation.mlflow()
    experiment = client.create_experiment("before-the-upgrade")
    client.log_run(experiment, "kept")
    upgrade = {"mlflow_tag": target.next_version}
    with Prober(installation.mlflow()) as prober, ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(installation.playbook, "upgrade", extra_vars=upgrade)
        wait_until(lambda: admin.get("coordination.k8s.io/v1", "Lease", LOCK, installation.namespace) is not None
                   or first.done(), 600, "the first upgrade to take the lock")
        assert not first.done(), "the first upgrade ended before the second one could start"
        second = installation.playbook("upgrade", extra_vars=upgrade)
        upgraded = first.result()
    assert second.returncode != 0 and "Another run holds the lock" in failure_message(second)
    assert_ok(upgraded)
    assert not any("Stop MLflow" in name for name in changed_tasks(upgraded))  # no schema change: rolling
    assert_serves(installation, target.next_version)
    assert client.run_names(experiment) == ["kept"]
    assert len(prober.results) > 50 and prober.api_calls > 10
    assert prober.failures == 0, (f"{prober.failures} failed probes, longest outage {prober.longest_outage():.1f}s: "
                                  f"{prober.errors}")


def test_then_a_recovery_to_a_time_between_two_runs_and_the_decommission_of_the_old_cluster(
        installation: Installation, target: Target, admin: Kube):
    """recover.yml to a moment between two runs (the WAL switched and archived by hand, as a person would before a
    restore), then decommission.yml of the cluster it superseded: the run before the moment is back, the one after
    is not, and MLflow serves the upgraded version."""
    client = installation.mlflow()
    experiment = client.experiment_id("before-the-upgrade")
    client.log_run(experiment, "before-the-target")
    time.sleep(1.5)  # separates the target from both runs' commit times
    target_time = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(1.5)
    client.log_run(experiment, "after-the-target")
    installation.switch_wal_and_wait_archived()
    superseded = installation.cluster_name()

    recovered = checked_then_run(installation, "recover", recovery_target_time=target_time)
    assert_ok(recovered)
    if catalog_only_in_cluster(installation):
        assert "backup catalog read inside the cluster, by a Job" in recovered.stdout
    cluster = installation.cluster_name()
    assert cluster != superseded
    client = installation.mlflow()
    assert client.version_string() == target.next_version
    assert client.run_names(experiment) == ["before-the-target", "kept"]
    installation.secrets()

    decommissioned = checked_then_run(installation, "decommission", check_vars={"decommission_confirm": ""},
                                      decommission_cluster=superseded, decommission_confirm=superseded)
    assert_ok(decommissioned)
    assert admin.get("postgresql.cnpg.io/v1", "Cluster", superseded, installation.namespace) is None
    assert installation.mlflow().version_string() == target.next_version


def test_no_secret_appears_in_any_output(installation: Installation, tmp_path: Path):
    """Every run of this module - the flows and their --check at -vvv --diff among them - and the drill's report:
    no password, key or token shows, plain, URL-encoded or base64 (the inventory's, the identities', and those the
    operator generated for each database cluster). A hit is named by the secret's kind, the run and where in it, with
    the text around it - the secret itself masked."""
    secrets = installation.secrets()
    forms = {form: f"{name} ({kind})" for name, secret in secrets.items()
             for kind, form in secret_forms(secret).items()}
    assert len(forms) >= 14, "every secret at least plain and base64-encoded expected"
    texts = [(label, text) for label, run in installation.runs for text in run_texts(run)]
    texts += [(path.name, path.read_text(encoding="utf-8")) for path in tmp_path.parent.glob("**/drill-*.json")]
    assert sum(len(text) for _label, text in texts) > 1_000_000, "the verbose runs' output expected"
    leaked = sorted({f"{name} in {label}: ...{masked_context(text, form)}..." for label, text in texts
                     for form, name in forms.items() if form in text})
    assert leaked == [], leaked


def masked_context(text: str, form: str, width: int = 80) -> str:
    at = text.index(form)
    return (text[max(0, at - width):at] + "<SECRET>" + text[at + len(form):at + len(form) + width]).replace("\n", " ")
