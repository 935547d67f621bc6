"""Several MLflow installations from one inventory (docs/fleet.md): each inventory host is an installation, the
playbooks target the group mlflow. Three installations in one sandbox, two of them as if on a second cluster (a
second kubeconfig context, which kubernetes.core and helm follow as they would to another API server).

One scenario, its steps sharing the three deployments: a fleet deploy; a fleet upgrade whose second installation's
migration fails (the first upgraded, the second rolled back, the third untouched, the summary saying so); a fleet
backup check (a report each and the fleet table); `-l` on one installation touching no other namespace; a fleet
drill of two installations (a report each and the fleet table)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e import faults
from tests.e2e.sandbox_flows import INVENTORY, Sandbox, assert_ok, failure_message, wait_for_base_backup
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
        environment = {} if host == "fleet-a" else {"K8S_AUTH_KUBECONFIG": str(kubeconfig),
                                                   "K8S_AUTH_CONTEXT": SECOND_CLUSTER}
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


def test_a_fleet_upgrade_stops_at_the_first_failure_and_fleet_checks_report_each_installation(
        sandbox: Sandbox, namespaces: dict[str, str], tmp_path: Path):
    inventory = write_inventory(sandbox, namespaces, tmp_path)
    reports = tmp_path / "reports"
    a, b, c = (namespaces[host] for host in HOSTS)

    deployed = fleet_run(sandbox, inventory, "deploy", reports)
    assert_ok(deployed)
    assert {host: row["result"] for host, row in summary(reports, "deploy")["by_host"].items()} == \
        dict.fromkeys(HOSTS, "succeeded")
    runs = {namespace: seed(sandbox, namespace) for namespace in (a, b, c)}
    # fleet-b's migration will fail for real: its app user no longer owns alembic_version (test_faults.py, case 1).
    faults.superuser(sandbox, b, CLUSTER,
                     f'ALTER TABLE alembic_version OWNER TO postgres; GRANT SELECT ON alembic_version TO "{app_user(sandbox, b)}"')
    untouched_revision = release_revision(sandbox, c)

    # Batches [1, "25%"] of three: fleet-a (the canary), then fleet-b, then fleet-c.
    upgrade = fleet_run(sandbox, inventory, "upgrade", reports, mlflow_tag="3.5.0")
    assert upgrade.returncode != 0
    message = failure_message(upgrade)
    assert message.startswith("1 of 3 installations failed (1 not started): fleet-b: The upgrade to MLflow 3.5.0"), message
    assert "permission denied for table alembic_version" in message, message
    rows = summary(reports, "upgrade")["by_host"]
    assert (rows["fleet-a"]["result"], rows["fleet-a"]["from"], rows["fleet-a"]["to"], rows["fleet-a"]["path"]) == \
        ("succeeded", "3.4.0", "3.5.0", "migrate")
    assert rows["fleet-a"]["downtime_seconds"] > 0
    assert rows["fleet-b"]["result"] == "failed" and "put back to MLflow 3.4.0" in rows["fleet-b"]["message"]
    assert rows["fleet-c"]["result"] == "not started" and "fleet-b failed before it" in rows["fleet-c"]["message"]
    serves(sandbox, a, "3.5.0", runs[a], timeout=60)
    serves(sandbox, b, "3.4.0", runs[b], timeout=60)
    serves(sandbox, c, "3.4.0", runs[c], timeout=60)
    assert release_revision(sandbox, c) == untouched_revision, "the installation after the failed one was changed"

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

    # -l on one installation: the playbook runs on it alone and writes nothing in the others' namespaces.
    audit = Audit(sandbox)
    alone = fleet_run(sandbox, inventory, "backup_check", reports, "-l", "fleet-c")
    assert_ok(alone)
    assert alone.task_results("fleet-a") == [] and alone.task_results("fleet-b") == []
    assert alone.task_results("fleet-c"), "the chosen installation ran nothing"
    touched = {entry.get("namespace") for entry in audit.since_last()} - {None}
    assert not touched & {a, b}, touched

    drill_reports = tmp_path / "drills"
    drilled = fleet_run(sandbox, inventory, "recovery_drill", reports, "-l", "fleet-a:fleet-c",
                        drill_report_dir=str(drill_reports))
    assert_ok(drilled)
    files = sorted(path.name for path in drill_reports.glob("drill-*.json"))
    assert [name.rsplit("-", 1)[0] for name in files] == ["drill-fleet-a", "drill-fleet-c"], files
    rows = summary(reports, "recovery_drill")["by_host"]
    assert sorted(rows) == ["fleet-a", "fleet-c"]
    for host in ("fleet-a", "fleet-c"):
        assert rows[host]["result"] == "succeeded" and rows[host]["rto_seconds"] > 0, rows[host]
        assert json.loads(Path(rows[host]["report_file"]).read_text())["result"] == "passed"
