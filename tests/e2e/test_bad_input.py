"""Bad input in the sandbox: each playbook refuses before any change, with a message naming what was wrong."""

from __future__ import annotations

import json

import pytest

from tests.e2e.sandbox_flows import Sandbox
from tests.support.ansible_run import failure_message

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


def test_a_cluster_without_cert_manager_is_refused_naming_it_before_any_change(sandbox: Sandbox):
    """The Barman Cloud Plugin's manifest has cert-manager issue its TLS certificates (an Issuer, two Certificates;
    its installation guide checks `cmctl check api` first): deploy.yml's preflight reads discovery, names what to
    install and changes nothing. The CRD comes back as it was (the sandbox serves cert-manager from its start)."""
    crd = sandbox.cluster.get("crd", "certificates.cert-manager.io")
    sandbox.cluster.kubectl("delete", "crd", "certificates.cert-manager.io")
    try:
        before = sandbox.snapshot()
        run = sandbox.deploy(NOWHERE, "3.5.0")
        message = failure_message(run)
        assert run.returncode != 0
        assert "the cluster lacks what the collection needs; nothing was changed" in message, message
        assert "cert-manager serves no certificates in cert-manager.io/v1" in message, message
        assert "install cert-manager (https://cert-manager.io/docs/installation/" in message, message
        assert sandbox.snapshot() == before
    finally:
        again = {"apiVersion": crd["apiVersion"], "kind": crd["kind"], "spec": crd["spec"],
                 "metadata": {"name": crd["metadata"]["name"], "labels": crd["metadata"].get("labels") or {}}}
        sandbox.cluster.kubectl("create", "-f", "-", stdin=json.dumps(again))
        sandbox.cluster.kubectl("wait", "crd/certificates.cert-manager.io", "--for=condition=Established",
                                "--timeout=30s")
