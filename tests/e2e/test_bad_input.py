"""Bad input in the sandbox: each playbook refuses before any change, with a message naming what was wrong."""

from __future__ import annotations

import pytest

from tests.e2e.sandbox_flows import Sandbox, failure_message

pytestmark = pytest.mark.slow
NOWHERE = "no-mlflow-here"


@pytest.mark.parametrize(("playbook", "extra_vars", "expected"), [
    ("upgrade", {"mlflow_tag": "3.5.1"}, "is not installed. Run playbooks/deploy.yml first"),
    ("recover", {}, "does not exist; nothing to recover"),
    ("recovery_drill", {}, "does not exist; nothing to drill"),
    ("backup_check", {}, "does not exist"),
])
def test_a_namespace_without_a_release_is_refused_before_any_change(
        sandbox: Sandbox, playbook: str, extra_vars: dict, expected: str):
    before = sandbox.snapshot()
    run = sandbox.run(playbook, NOWHERE, "3.5.0", extra_vars=extra_vars)
    message = failure_message(run)
    assert run.returncode != 0
    assert expected in message and f"{NOWHERE}/mlflow" in message, message
    assert sandbox.snapshot() == before


@pytest.mark.parametrize(("variable", "name"), [
    ("mlflow_aws_env_file", "aws.env"),
    ("mlflow_basic_auth_ini_file", "basic-auth.ini"),
])
def test_a_missing_credentials_file_is_named_and_refused_before_any_change(
        sandbox: Sandbox, variable: str, name: str):
    """The files are read without logging (they hold secrets), so their absence is checked, and said, before."""
    before = sandbox.snapshot()
    run = sandbox.deploy(NOWHERE, "3.5.0", extra_vars={variable: f"/nonexistent/{name}"})
    message = failure_message(run)
    assert run.returncode != 0
    option = variable.replace("mlflow_", "deploy_", 1)
    assert message == f"{name} not found: /nonexistent/{name} is not a file ({option}).", message
    assert sandbox.snapshot() == before
