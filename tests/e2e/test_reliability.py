"""Reliability in the sandbox: no secret in any output at -vvv --diff, and a killed upgrade that is rerun."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from urllib.parse import quote

import pytest

from tests.e2e.sandbox_flows import GROUP_VARS, INVENTORY, Sandbox, failure_message
from tests.support.ansible_run import ANSIBLE_PLAYBOOK, ansible_env
from tests.support.versions import REPO_ROOT

pytestmark = pytest.mark.slow


def secret_forms(value: str) -> set[str]:
    """A secret as it could leak: plain, URL-encoded, base64."""
    return {value, quote(value, safe=""), base64.b64encode(value.encode()).decode()}


def known_secrets(sandbox: Sandbox, namespace: str) -> set[str]:
    aws = dict(line.split("=", 1) for line in (INVENTORY / "files" / "aws.env").read_text().splitlines()
               if line and not line.startswith("#"))
    app = sandbox.cluster.get("secret", "pg-cluster-v1-app", "-n", namespace)["data"]
    values = {aws["AWS_SECRET_ACCESS_KEY"], GROUP_VARS["mlflow_admin_password"], GROUP_VARS["mlflow_flask_secret_key"],
              base64.b64decode(app["password"]).decode()}
    found = set()
    for value in values:
        found |= secret_forms(value)
    return found


def test_no_secret_in_any_output_at_vvv_with_diff(sandbox: Sandbox, namespace: str):
    first = sandbox.deploy(namespace, "3.5.0", verbosity=3, diff=True)
    assert first.returncode == 0, failure_message(first)
    outputs = [first.stdout + first.stderr]
    for options in ({"check": True}, {}):
        run = sandbox.run("upgrade", namespace, "3.5.0", extra_vars={"mlflow_tag": "3.5.1"}, verbosity=3,
                          diff=True, **options)
        assert run.returncode == 0, failure_message(run)
        outputs.append(run.stdout + run.stderr)
    secrets = known_secrets(sandbox, namespace)
    leaks = {secret for secret in secrets for output in outputs if secret in output}
    assert not leaks, "secret values found in playbook output"
    assert all(len(output) > 10000 for output in outputs), "verbose output expected"


def test_an_upgrade_killed_mid_way_is_refused_by_its_stale_lock_then_converges_with_force(sandbox: Sandbox,
                                                                                          namespace: str):
    assert sandbox.deploy(namespace, "3.4.0").returncode == 0
    variables = {"mlflow_namespace": namespace, "mlflow_url": sandbox.url(namespace),
                 "mlflow_values": sandbox.values(namespace, "3.4.0"), "mlflow_tag": "3.5.0"}
    command = [str(ANSIBLE_PLAYBOOK), "-i", str(INVENTORY / "hosts.yml"), "-e", json.dumps(variables),
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
