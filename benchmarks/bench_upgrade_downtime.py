"""Upgrade downtime of playbooks/upgrade.yml against the floor measured in the same run, in the sandbox.

A prober polls /health and an authenticated API call every 100 ms during each upgrade; downtime is the longest
window of failed probes. The floor, measured in the same sandbox on an identical installation: stop MLflow (scale to
0 through the release), bare `mlflow db upgrade` with the new version, start the new image, first healthy answer.
The no-schema-change upgrade (3.5.0 -> 3.5.1) must show no downtime at all.

Writes benchmarks/results/upgrade_downtime.json, appends rows to the table in docs/benchmarks.md and draws the
timelines docs/images/upgrade-timeline.svg and docs/images/upgrade-rolling-timeline.svg.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# pylint: disable=wrong-import-position
from benchmarks import phases, record, svg  # noqa: E402
from sandbox.runtime.venvs import ensure_mlflow_venv  # noqa: E402
from tests.e2e.sandbox_flows import Sandbox  # noqa: E402
from tests.support.prober import Prober  # noqa: E402
from tests.sandbox.runtime_stack import Stack  # noqa: E402
from tests.support.versions import REPO_ROOT  # noqa: E402

IMAGES = REPO_ROOT / "docs" / "images"


def seed(sandbox: Sandbox, namespace: str, runs: int = 20) -> None:
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("bench")
    for index in range(runs):
        client.log_run(experiment, f"run-{index}", metrics={"loss": index / runs})


def checked(run):
    if run.returncode != 0:
        record.fail(f"playbook failed: {run.stdout[-3000:]}")
    return run


def measured_upgrade(sandbox: Sandbox, namespace: str, current: str, target: str, picture: str) -> dict:
    started, wall = time.monotonic(), time.time()
    with Prober(sandbox.mlflow(namespace)) as prober:
        run = checked(sandbox.run("upgrade", namespace, current, extra_vars={"mlflow_tag": target}))
    found = phases.phases(run.report, phases.UPGRADE, origin=wall)
    probes = [(round(moment - started, 2), answered) for moment, answered in prober.results]
    svg.upgrade_timeline(IMAGES / picture, f"upgrade.yml {current} -> {target} in the sandbox", found, probes)
    return {"from": current, "to": target, "playbook_s": round(time.monotonic() - started, 2),
            "downtime_s": round(prober.longest_outage(), 2), "failed_probes": prober.failures,
            "retried_probes": len(prober.retried), "probes": len(prober.results), "phases": found,
            "outages": [(round(start - started, 2), round(end - started, 2)) for start, end in prober.outages()],
            "picture": f"docs/images/{picture}"}


def floor(sandbox: Sandbox, namespace: str, current: str, target: str) -> dict:
    """Stop, bare `mlflow db upgrade`, start, first healthy answer: what no automation can go below."""
    stack = Stack(sandbox.cluster, namespace)
    values = sandbox.values(namespace, current)
    client = sandbox.mlflow(namespace)
    started = time.monotonic()
    values["mlflow"]["replicas"] = 0
    stack.helm_upgrade(values)
    while stack.server_pods():
        time.sleep(0.1)
    stopped = time.monotonic()
    secret = stack.get("secret", "pg-cluster-v1-app")["data"]
    user, password = (base64.b64decode(secret[key]).decode() for key in ("username", "password"))
    uri = f"postgresql+psycopg2://{user}:{password}@{stack.service_address('pg-cluster-v1-rw')}:5432/mlflow"
    subprocess.run([str(ensure_mlflow_venv(target) / "bin" / "mlflow"), "db", "upgrade", uri], check=True,
                   capture_output=True)
    migrated = time.monotonic()
    values["mlflow"]["replicas"] = 1
    values["mlflow"]["image"]["tag"] = target
    stack.helm_upgrade(values)
    while True:
        try:
            if client.session.get(f"{client.url}/health", timeout=2).status_code == 200:
                break
        except Exception:  # pylint: disable=broad-exception-caught  # still starting
            pass
        time.sleep(0.1)
    healthy = time.monotonic()
    return {"stop_s": round(stopped - started, 2), "bare_migrate_s": round(migrated - stopped, 2),
            "start_s": round(healthy - migrated, 2), "floor_s": round(healthy - started, 2)}


def main() -> int:
    sandbox = Sandbox.start()
    try:
        ours, base = "bench-ours", "bench-floor"
        for namespace in (ours, base):
            checked(sandbox.deploy(namespace, "3.4.0"))
            seed(sandbox, namespace)
        with_migration = measured_upgrade(sandbox, ours, "3.4.0", "3.5.0", "upgrade-timeline.svg")
        without_migration = measured_upgrade(sandbox, ours, "3.5.0", "3.5.1", "upgrade-rolling-timeline.svg")
        floor_result = floor(sandbox, base, "3.4.0", "3.5.0")
    finally:
        sandbox.stop()
    result = {
        "upgrade_with_schema_change": with_migration,
        "floor_stop_migrate_start": floor_result,
        "downtime_ratio": round(with_migration["downtime_s"] / floor_result["floor_s"], 2),
        "upgrade_without_schema_change": without_migration,
    }
    record.write_json("upgrade_downtime", result)
    record.append_rows("upgrade downtime", [
        ("3.4.0 -> 3.5.0 (schema change): longest outage", record.seconds(with_migration["downtime_s"]),
         record.seconds(floor_result["floor_s"]), record.ratio(with_migration["downtime_s"], floor_result["floor_s"]),
         f"playbook {with_migration['playbook_s']:.0f} s in all; floor = stop + bare `mlflow db upgrade` + start"),
        ("3.5.0 -> 3.5.1 (same schema): longest outage", record.seconds(without_migration["downtime_s"]), "0 s",
         "-", f"{without_migration['failed_probes']} failed of {without_migration['probes']} probes; rolling update"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
