"""The modules' one base (plugins/module_utils/collection_module.py): options, the client's check mode, and the one
translation of errors to a failure."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from kubernetes.dynamic.exceptions import ForbiddenError

from ansible_collections.kubernetes.core.plugins.module_utils.k8s import client as k8s_client
from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

SPEC = {"name": {"type": "str", "required": True}}


@pytest.fixture(name="kubeconfig")
def fixture_kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "a-token-never-shown"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


def run(capsys, args, work, **settings):
    """Run `work` through a CollectionModule with `args`; returns (exit code, the JSON the module printed)."""
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        CollectionModule(SPEC, **settings).execute(work)
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_a_cluster_module_takes_kubernetes_core_connection_options(capsys, kubeconfig):
    code, result = run(capsys, {"name": "x", "kubeconfig": kubeconfig, "context": "c"},
                       lambda module: {"changed": False, "kubeconfig": module.params["kubeconfig"]}, cluster=True)
    assert code == 0 and result["kubeconfig"] == kubeconfig


def test_a_module_without_cluster_rejects_them(capsys, kubeconfig):
    code, result = run(capsys, {"name": "x", "kubeconfig": kubeconfig}, lambda module: {"changed": False})
    assert code == 1 and "kubeconfig" in result["msg"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_the_client_writes_as_a_server_side_dry_run_exactly_in_check_mode(capsys, kubeconfig, check_mode, monkeypatch):
    # kubernetes.core's own get_api_client runs; only the connection it would open (discovery) is left out.
    monkeypatch.setattr(k8s_client, "create_api_client", lambda configuration, **headers: object())
    code, result = run(capsys, {"name": "x", "kubeconfig": kubeconfig, "_ansible_check_mode": check_mode},
                       lambda module: {"changed": False, "dry_run": module.client.dry_run}, cluster=True,
                       supports_check_mode=True)
    assert code == 0 and result["dry_run"] is check_mode


def test_a_collection_error_fails_with_its_message_and_what_is_known(capsys):
    def work(module):
        raise CollectionError("the migration stopped: rerun it", job_name="mlflow-migrate-x")
    code, result = run(capsys, {"name": "x"}, work)
    assert code == 1
    assert result["msg"] == "the migration stopped: rerun it" and result["job_name"] == "mlflow-migrate-x"


def test_an_api_error_names_its_status_and_what_to_check(capsys):
    class Refusal(Exception):
        status, reason, body, headers = 403, "Forbidden", b'{"message": "leases is forbidden"}', {}

    def work(module):
        raise ForbiddenError(Refusal())
    code, result = run(capsys, {"name": "x"}, work)
    assert code == 1
    assert "HTTP 403" in result["msg"] and "kubectl auth can-i" in result["msg"]


def test_warnings_are_warned_and_hidden_values_never_returned(capsys, monkeypatch):
    warned = []
    monkeypatch.setattr(CollectionModule, "warn", lambda module, message: warned.append(message))

    def work(module):
        module.hide("s3cr3t-value")
        return {"changed": True, "note": "uses s3cr3t-value", "warnings": ["the server restarts"]}
    code, result = run(capsys, {"name": "x"}, work)
    assert code == 0 and result["changed"] is True
    assert warned == ["the server restarts"] and "warnings" not in result
    assert "s3cr3t-value" not in json.dumps(result)
