"""Several MLflow installations from one inventory (docs/fleet.md): each inventory host is an installation, the
playbooks target the group mlflow. Three installations in one sandbox, two of them as if on a second cluster (a
second kubeconfig context, which kubernetes.core and helm follow as they would to another API server).

One scenario, its steps sharing the three deployments: a fleet deploy; the fleet upgrade in check mode; a fleet
upgrade whose second installation's migration fails (the first upgraded, the second rolled back, the third
untouched, the summary saying so), then rerun on the first two once fixed; a fleet backup check (a report each and
the fleet table); a drill of two installations picked with `-l` (a report each and the fleet table; nothing written
in the third's namespace)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import faults
from tests.e2e.sandbox_flows import INVENTORY, Sandbox, wait_for_base_backup
from tests.support.ansible_run import assert_ok, failure_message
from tests.e2e.test_faults import CLUSTER, app_user, seed, serves
from tests.e2e.test_reliability import Audit
from tests.support.ansible_run import PlaybookRun, run_playbook
from tests.support.versions import REPO_ROOT

HOSTS = ("fleet-a", "fleet-b", "fleet-c")
SECOND_CLUSTER = "second-cluster"


@pytest.fixture(name="namespaces")
def fixture_namespaces(sandbox: Sandbox) -> Iterator[dict[str, str]]:
    """A namespace per installation, deleted (with every process in it) afterwards."""
    suffix = uuid.uuid4().hex[:5]
    names = {host: f"{host}-{suffix}" for host in HOSTS}
    yield names
    for name in names.values():
        sandbox.delete_namespace(name)


def second_context(sandbox: Sandbox, folder: Path) -> Path:
    """The sandbox's kubeconfig with one more context: what a second cluster's entry in a kubeconfig looks like."""
    config = yaml.safe_load(Path(sandbox.cluster.env["K8S_AUTH_KUBECONFIG"]).read_text())
    current = next(item for item in config["contexts"] if item["name"] == config["current-context"])
    config["contexts"].append({"name": SECOND_CLUSTER, "context": dict(current["context"])})
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def write_inventory(sandbox: Sandbox, namespaces: dict[str, str], folder: Path) -> Path:
    """An inventory of the three installations beside the sandbox's group_vars and files: each host its namespace,
    URL, values (its own backup folder and artifact prefix) and cluster access."""
    kubeconfig = second_context(sandbox, folder)
    hosts: dict[str, Any] = {}
    for host, namespace in namespaces.items():
        values = sandbox.values(namespace, "3.4.0")
        values["mlflow"]["artifacts"]["destination"] = f"s3://mlflow-artifacts/{namespace}/"
        if host == "fleet-a":
            values["postgresql"]["instances"] = 3
        second = {"K8S_AUTH_KUBECONFIG": str(kubeconfig), "K8S_AUTH_CONTEXT": SECOND_CLUSTER}
        environment = {} if host == "fleet-a" else second
        hosts[host] = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                       "mlflow_namespace": namespace, "mlflow_url": sandbox.url(namespace),
                       "mlflow_values": values, "mlflow_environment": environment}
    inventory = folder / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"mlflow": {"hosts": hosts}}}}))
    for shared in ("group_vars", "files"):
        (inventory / shared).symlink_to(INVENTORY / shared)
    return inventory / "hosts.yml"


def fleet_run(sandbox: Sandbox, inventory: Path, playbook: str, reports: Path, *args: str,
              **extra_vars: Any) -> PlaybookRun:
    variables = {"mlflow_fleet_report_dir": str(reports), **extra_vars}
    return run_playbook(REPO_ROOT / "playbooks" / f"{playbook}.yml", "-i", str(inventory), "-e", json.dumps(variables),
                        *args, env=dict(sandbox.env(), ANSIBLE_SHOW_CUSTOM_STATS="1"), timeout=2400)


def summary(reports: Path, flow: str) -> dict[str, Any]:
    """The newest fleet summary of `flow` in the report folder, its rows by installation."""
    newest = sorted(reports.glob(f"{flow}-*.json"))[-1]
    document = json.loads(newest.read_text())
    document["by_host"] = {row["installation"]: row for row in document["rows"]}
    return document


def release_revision(sandbox: Sandbox, namespace: str) -> int:
    history = json.loads(sandbox.cluster.helm("history", "mlflow", "-n", namespace, "-o", "json").stdout)
    return max(entry["revision"] for entry in history)


def changed_on(run: PlaybookRun, host: str) -> list[str]:
    """The tasks that changed something for `host`, but the fleet summary's file (written on the first host)."""
    return [task["task"]["name"] for play in (run.report or {}).get("plays", []) for task in play["tasks"]
            if task["hosts"].get(host, {}).get("changed") and "summary" not in task["task"]["name"].lower()]


def postgres_instances(sandbox: Sandbox, namespace: str) -> dict:
    status = sandbox.kubectl_json("clusters.postgresql.cnpg.io", CLUSTER, "-n", namespace)["status"]
    return {key: status.get(key) for key in ("phase", "instances", "readyInstances", "currentPrimary")}


def test_a_fleet_upgrade_stops_at_the_first_failure_and_fleet_checks_report_each_installation(
        sandbox: Sandbox, namespaces: dict[str, str], tmp_path: Path):
    """Also the single installation's upgrade 3.4.0 -> 3.5.0 (fleet-a, with an HA database: a primary and two
    streaming replicas, as production runs it): check mode inert, `v3.5.0` accepted, every run kept, the rerun
    changes nothing; and the migrate Job that fails for real (fleet-b: the app user lost ownership of
    alembic_version, so the migration's last statement is refused and its transaction rolls back): rolled back,
    schema unchanged, then converging once fixed."""
    inventory = write_inventory(sandbox, namespaces, tmp_path)
    reports = tmp_path / "reports"
    a, b, c = (namespaces[host] for host in HOSTS)
    healthy = {"phase": "Cluster in healthy state", "instances": 3, "readyInstances": 3,
               "currentPrimary": f"{CLUSTER}-1"}

    deployed = fleet_run(sandbox, inventory, "deploy", reports)
    assert_ok(deployed)
    assert {host: row["result"] for host, row in summary(reports, "deploy")["by_host"].items()} == \
        dict.fromkeys(HOSTS, "succeeded")
    assert postgres_instances(sandbox, a) == healthy
    runs = {namespace: seed(sandbox, namespace) for namespace in (a, b, c)}
    user = app_user(sandbox, b)
    faults.superuser(sandbox, b, CLUSTER,
                     f'ALTER TABLE alembic_version OWNER TO postgres; GRANT SELECT ON alembic_version TO "{user}"')
    revision = faults.tracking_revision(sandbox, b, CLUSTER)
    untouched_revision = release_revision(sandbox, c)

    before = sandbox.snapshot()
    checked = fleet_run(sandbox, inventory, "upgrade", reports, "--check", mlflow_tag="3.5.0")
    assert_ok(checked)
    assert sandbox.snapshot() == before, "upgrade --check changed the cluster"

    # Batches [1, "25%"] of three: fleet-a (the canary), then fleet-b, then fleet-c.
    upgrade = fleet_run(sandbox, inventory, "upgrade", reports, mlflow_tag="v3.5.0")
    assert upgrade.returncode != 0
    message = failure_message(upgrade)
    assert message.startswith("1 of 3 installations failed (1 not started): fleet-b: The upgrade to MLflow 3.5.0"), message
    assert "failed during migrate" in message and "permission denied for table alembic_version" in message, message
    assert "The database schema was not changed" in message and "put back to MLflow 3.4.0" in message, message
    rows = summary(reports, "upgrade")["by_host"]
    assert (rows["fleet-a"]["result"], rows["fleet-a"]["from"], rows["fleet-a"]["to"], rows["fleet-a"]["path"]) == \
        ("succeeded", "3.4.0", "3.5.0", "migrate")
    assert rows["fleet-a"]["downtime_seconds"] > 0
    assert any("Stop MLflow" in name for name in changed_on(upgrade, "fleet-a"))
    assert rows["fleet-b"]["result"] == "failed" and "put back to MLflow 3.4.0" in rows["fleet-b"]["message"]
    assert rows["fleet-c"]["result"] == "not started" and "fleet-b failed before it" in rows["fleet-c"]["message"]
    serves(sandbox, a, "3.5.0", runs[a], timeout=60)
    assert postgres_instances(sandbox, a) == healthy
    assert faults.tracking_revision(sandbox, b, CLUSTER) == revision
    serves(sandbox, b, "3.4.0", runs[b], timeout=60)
    serves(sandbox, c, "3.4.0", runs[c], timeout=60)
    assert release_revision(sandbox, c) == untouched_revision, "the installation after the failed one was changed"

    # Fixed, the same command again, on the upgraded installation and the failed one: fleet-a changes nothing,
    # fleet-b converges.
    faults.superuser(sandbox, b, CLUSTER, f'ALTER TABLE alembic_version OWNER TO "{user}"')
    again = fleet_run(sandbox, inventory, "upgrade", reports, "-l", "fleet-a:fleet-b", mlflow_tag="3.5.0")
    assert_ok(again)
    assert changed_on(again, "fleet-a") == []
    rows = summary(reports, "upgrade")["by_host"]
    assert sorted(rows) == ["fleet-a", "fleet-b"] and rows["fleet-a"]["path"] == "none", rows
    serves(sandbox, b, "3.5.0", runs[b], timeout=60)

    for namespace in (a, b, c):
        wait_for_base_backup(sandbox, namespace)
    checked = fleet_run(sandbox, inventory, "backup_check", reports)
    assert_ok(checked)
    rows = summary(reports, "backup_check")["by_host"]
    assert all(rows[host]["result"] == "succeeded" and rows[host]["continuous_archiving"] is True
               and rows[host]["last_backup_age_hours"] is not None for host in HOSTS), rows
    # One report each in the AWX job's artifacts, keyed by installation (set_stats), and the fleet table.
    stats = checked.report["global_custom_stats"]
    assert sorted(stats["mlflow_backup_checks"]) == sorted(HOSTS)
    assert stats["mlflow_fleet_summary"]["counts"] == {"succeeded": 3, "failed": 0, "not started": 0}

    # -l on two installations: the drill runs on them alone and writes nothing in the third's namespace.
    audit = Audit(sandbox)
    drill_reports = tmp_path / "drills"
    drilled = fleet_run(sandbox, inventory, "recovery_drill", reports, "-l", "fleet-a:fleet-c",
                        drill_report_dir=str(drill_reports))
    assert_ok(drilled)
    assert drilled.task_results("fleet-b") == [] and drilled.task_results("fleet-a")
    # The drill reads production and writes only in a project of its own, <namespace>-drill-<time>.
    touched = {entry.get("namespace") for entry in audit.since_last()} - {None}
    assert {namespace.rsplit("-drill-", 1)[0] for namespace in touched} == {a, c}, touched
    files = sorted(path.name for path in drill_reports.glob("drill-*.json"))
    assert [name.rsplit("-", 1)[0] for name in files] == ["drill-fleet-a", "drill-fleet-c"], files
    rows = summary(reports, "recovery_drill")["by_host"]
    assert sorted(rows) == ["fleet-a", "fleet-c"]
    for host in ("fleet-a", "fleet-c"):
        assert rows[host]["result"] == "succeeded" and rows[host]["rto_seconds"] > 0, rows[host]
        assert json.loads(Path(rows[host]["report_file"]).read_text())["result"] == "passed"
