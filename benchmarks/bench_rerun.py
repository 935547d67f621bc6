"""Idempotent reruns: wall time and changed-task count of a second run of each playbook, against its first run.

One MLflow installation in the sandbox. deploy.yml, upgrade.yml (3.4.0 -> 3.5.0), backup_check.yml and
recovery_drill.yml each run twice in a row with the same inputs. A second deploy, upgrade or backup check must change
nothing; its time is what a scheduled job pays for confirming the state. A drill changes things by design (it
creates and deletes a throw-away namespace every time): its count is reported, not expected to be 0. recover.yml is
not rerun here: a finished recovery is not repeated, and an interrupted one resumes (tests/e2e covers both).

Writes benchmarks/results/rerun.json and appends rows to docs/benchmarks.md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# pylint: disable=wrong-import-position
from benchmarks import record  # noqa: E402
from tests.e2e.sandbox_flows import Sandbox  # noqa: E402
from tests.support.ansible_run import changed_tasks  # noqa: E402
from tests.e2e.test_recover_drill import wait_for_base_backup  # noqa: E402

NAMESPACE = "rerun"


def timed(sandbox: Sandbox, playbook: str, version: str, **extra_vars) -> dict:
    started = time.monotonic()
    run = sandbox.run(playbook, NAMESPACE, version, extra_vars=extra_vars)
    if run.returncode != 0:
        record.fail(f"{playbook} failed: {run.stdout[-3000:]}")
    return {"seconds": round(time.monotonic() - started, 1), "changed_tasks": changed_tasks(run)}


def twice(sandbox: Sandbox, playbook: str, version: str, **extra_vars) -> dict:
    first = timed(sandbox, playbook, version, **extra_vars)
    second = timed(sandbox, playbook, version, **extra_vars)
    print(f"{playbook}: first {first['seconds']} s ({len(first['changed_tasks'])} changed), "
          f"second {second['seconds']} s ({len(second['changed_tasks'])} changed)", flush=True)
    return {"first": first, "second": second}


def main() -> int:
    sandbox = Sandbox.start()
    try:
        results = {"deploy": twice(sandbox, "deploy", "3.4.0")}
        wait_for_base_backup(sandbox, NAMESPACE)
        results["upgrade"] = twice(sandbox, "upgrade", "3.4.0", mlflow_tag="3.5.0")
        results["backup_check"] = twice(sandbox, "backup_check", "3.5.0")
        with tempfile.TemporaryDirectory() as reports:
            results["recovery_drill"] = twice(sandbox, "recovery_drill", "3.5.0", drill_report_dir=reports)
    finally:
        sandbox.stop()
    record.write_json("rerun", results)
    rows = []
    for playbook, result in results.items():
        first, second = result["first"], result["second"]
        expectation = "a drill restores anew each time" if playbook == "recovery_drill" else "expected 0"
        rows.append((f"{playbook}.yml second run", record.seconds(second["seconds"]), record.seconds(first["seconds"]),
                     record.ratio(second["seconds"], first["seconds"]),
                     f"{len(second['changed_tasks'])} changed tasks ({expectation}); first run "
                     f"{len(first['changed_tasks'])}"))
    record.append_rows("idempotent rerun", rows)
    unexpected = {name: result["second"]["changed_tasks"] for name, result in results.items()
                  if name != "recovery_drill" and result["second"]["changed_tasks"]}
    if unexpected:
        record.fail(f"second runs changed something: {unexpected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
