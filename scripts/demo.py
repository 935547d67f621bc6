"""`make demo`: the whole story on a fresh machine, in the local sandbox, with visible progress.

Starts a sandbox (real PostgreSQL, barman-cloud, S3 and MLflow processes behind a local Kubernetes API), deploys
MLflow 3.4.0 with the real playbooks, logs sample experiments, upgrades to 3.5.0 and then to the newest pinned
version while a prober measures downtime, runs a recovery drill, prints a short report and stops the sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.sandbox_flows import INVENTORY, Prober, Sandbox  # noqa: E402  pylint: disable=wrong-import-position
from tests.support.versions import NEWEST_MLFLOW, REPO_ROOT  # noqa: E402  pylint: disable=wrong-import-position

NAMESPACE = "mlflow"


def phase(text: str) -> None:
    print(f"\n=== {time.strftime('%H:%M:%S')} {text}", flush=True)


def playbook(sandbox: Sandbox, name: str, version: str, **extra_vars) -> None:
    """Run a playbook as a person would, its output streaming to the terminal; stop the demo if it fails."""
    variables = {"mlflow_values": sandbox.values(NAMESPACE, version), **extra_vars}
    command = [str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(INVENTORY / "hosts.yml"),
               "-e", json.dumps(variables), str(REPO_ROOT / "playbooks" / f"{name}.yml")]
    env = dict(sandbox.env(), ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_DISPLAY_SKIPPED_HOSTS="false", ANSIBLE_DISPLAY_OK_HOSTS="true")
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo: playbooks/{name}.yml failed (exit {result.returncode}); see its output above")


def seed(sandbox: Sandbox) -> int:
    client = sandbox.mlflow(NAMESPACE)
    runs = 0
    for name in ("churn-model", "demand-forecast"):
        experiment = client.create_experiment(name)
        for index in range(3):
            client.log_run(experiment, f"{name}-{index}", params={"lr": str(0.1 * (index + 1))},
                           metrics={"loss": 1.0 / (index + 1), "accuracy": 0.7 + index / 10})
            runs += 1
    return runs


def upgrade(sandbox: Sandbox, current: str, target: str) -> dict:
    started = time.monotonic()
    with Prober(sandbox.mlflow(NAMESPACE)) as prober:
        playbook(sandbox, "upgrade", current, mlflow_tag=target)
    return {"from": current, "to": target, "seconds": round(time.monotonic() - started, 1),
            "failed_probes": prober.failures, "downtime_seconds": round(prober.longest_outage(), 1)}


def main() -> int:
    phase("Starting the sandbox (local Kubernetes API, S3, controllers that run real processes)")
    sandbox = Sandbox.start()
    report: dict = {"upgrades": []}
    try:
        phase("Deploying MLflow 3.4.0 with playbooks/deploy.yml")
        playbook(sandbox, "deploy", "3.4.0")
        phase("Logging sample experiments through the MLflow API")
        report["runs_logged"] = seed(sandbox)
        print(f"logged {report['runs_logged']} runs in 2 experiments")
        phase("Upgrading to 3.5.0 with playbooks/upgrade.yml (backup, build while serving, migrate, verify)")
        report["upgrades"].append(upgrade(sandbox, "3.4.0", "3.5.0"))
        phase(f"Upgrading to {NEWEST_MLFLOW}")
        report["upgrades"].append(upgrade(sandbox, "3.5.0", NEWEST_MLFLOW))
        phase("Recovery drill with playbooks/recovery_drill.yml (restore into a throw-away namespace)")
        with tempfile.TemporaryDirectory() as reports:
            playbook(sandbox, "recovery_drill", NEWEST_MLFLOW, drill_report_dir=reports)
            report["drill"] = json.loads(next(Path(reports).glob("drill-*.json")).read_text())
        client = sandbox.mlflow(NAMESPACE)
        report["final_version"] = client.version_string()
    finally:
        phase("Stopping the sandbox")
        sandbox.stop()

    phase("Report")
    for step in report["upgrades"]:
        print(f"upgrade {step['from']} -> {step['to']}: {step['seconds']} s in all, downtime "
              f"{step['downtime_seconds']} s ({step['failed_probes']} failed probes of /health + API every 100 ms)")
    drill = report["drill"]
    print(f"recovery drill: {drill['result']}, RTO {drill['rto_seconds']} s, RPO {drill['rpo_seconds']} s "
          f"(against {drill['rpo_basis']}), "
          f"{drill['runs']} runs restored, WAL replayed past the base backup: {drill['wal_replayed_past_base_backup']}")
    print(f"MLflow now runs {report['final_version']} and serves all {report['runs_logged']} runs logged at 3.4.0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
