"""Reliability in the sandbox: a killed upgrade that is rerun converges. (Every flow at -vvv --diff, each first with
--check that must change nothing, and no secret in any output: the live scenarios, tests/live; their sandbox
provisioner also searches the API server's audit log, tests/e2e/live_sandbox.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

import pytest

from tests.e2e.sandbox_flows import INVENTORY, Sandbox
from tests.support.ansible_run import ANSIBLE_PLAYBOOK, ansible_env, failure_message, module_interpreter
from tests.support.versions import REPO_ROOT

pytestmark = pytest.mark.slow


class Audit:
    """The sandbox API server's audit log (audit.jsonl in its state folder), read from an offset."""

    def __init__(self, sandbox: Sandbox):
        self.path = sandbox.cluster.state_dir / "audit.jsonl"
        self.offset = self.path.stat().st_size

    def since_last(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        complete = data[:data.rfind(b"\n") + 1]  # a line being written now belongs to the next window
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]


def test_an_upgrade_killed_mid_way_is_refused_by_its_stale_lock_then_converges_with_force(sandbox: Sandbox,
                                                                                          namespace: str):
    assert sandbox.deploy(namespace, "3.4.0").returncode == 0
    variables = {"mlflow_namespace": namespace, "mlflow_url": sandbox.url(namespace),
                 "mlflow_values": sandbox.values(namespace, "3.4.0"), "mlflow_tag": "3.5.0"}
    command = [str(ANSIBLE_PLAYBOOK), *module_interpreter(), "-i", str(INVENTORY / "hosts.yml"),
               "-e", json.dumps(variables),
               str(REPO_ROOT / "playbooks" / "upgrade.yml")]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=ansible_env(sandbox.env()), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    # Kill it in the middle: once the pre-upgrade backup exists (the lock is held, nothing migrated yet).
    while time.monotonic() < deadline and process.poll() is None:
        backups = sandbox.cluster.get("backups.postgresql.cnpg.io", "-n", namespace)["items"]
        if any("pre-upgrade" in item["metadata"]["name"] for item in backups):
            break
        time.sleep(0.5)
    assert process.poll() is None, "the upgrade ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGKILL)  # the playbook and the module it was running
    process.wait(timeout=30)

    rerun = sandbox.run("upgrade", namespace, "3.4.0", extra_vars={"mlflow_tag": "3.5.0"})
    assert rerun.returncode != 0
    assert "Another run holds the lock" in failure_message(rerun) and "force=true" in failure_message(rerun)

    forced = sandbox.run("upgrade", namespace, "3.4.0", extra_vars={"mlflow_tag": "3.5.0", "mlflow_lock_force": True})
    assert forced.returncode == 0, failure_message(forced)
    assert sandbox.mlflow(namespace).version_string() == "3.5.0"
