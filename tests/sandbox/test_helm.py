"""kubernetes.core.helm / helm_info through the sandbox helm double (helm-python-sdk, Helm 4) and the helm CLI
commands the roles call directly."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from tests.sandbox.cluster import SandboxCluster


def _release_task(name: str, namespace: str, chart: Path, values: dict, register: str) -> str:
    return textwrap.dedent(f"""\
        - name: Release {name} with the values given
          kubernetes.core.helm:
            release_name: {name}
            release_namespace: {namespace}
            chart_ref: {chart}
            release_values: {json.dumps(values)}
            wait: true
            timeout: 1m0s
          register: {register}
        """)


def test_install_upgrade_idempotence_info_and_uninstall(cluster: SandboxCluster, namespace: str,
                                                        demo_chart: Path):
    run = cluster.playbook(
        _release_task("demo", namespace, demo_chart, {"greeting": "hi"}, "r_install")
        + _release_task("demo", namespace, demo_chart, {"greeting": "hi"}, "r_again")
        + _release_task("demo", namespace, demo_chart, {"greeting": "bonjour", "replicas": 2}, "r_upgrade")
        + textwrap.dedent(f"""\
        - name: Read the release
          kubernetes.core.helm_info:
            release_name: demo
            release_namespace: {namespace}
          register: r_info
        """))
    assert run["r_install"]["changed"] is True
    assert run["r_install"]["status"]["status"] == "deployed"
    assert run["r_again"]["changed"] is False
    assert run["r_upgrade"]["changed"] is True
    info = run["r_info"]["status"]
    assert info["revision"] == "2"
    assert info["chart"] == "demo-0.1.0"
    assert info["release_values"] == {"greeting": "bonjour", "replicas": 2}
    assert "Greeting is bonjour." in info["notes"]
    assert {doc["kind"] for doc in info["manifest"]} == {"ConfigMap", "Deployment"}
    assert cluster.get("configmap", "demo-config", "-n", namespace)["data"] == {"greeting": "bonjour"}
    deployment = cluster.get("deploy", "demo", "-n", namespace, "--show-managed-fields")
    assert deployment["status"]["readyReplicas"] == 2
    # Helm 4 writes with server-side apply, as the field manager "helm".
    assert {"helm"} <= {entry["manager"] for entry in deployment["metadata"]["managedFields"]
                        if entry["operation"] == "Apply"}
    # The release records are Helm's own: protobuf-posted Secrets of type helm.sh/release.v1.
    secrets = cluster.get("secrets", "-n", namespace, "-l", "owner=helm,name=demo")["items"]
    assert sorted(s["metadata"]["labels"]["version"] for s in secrets) == ["1", "2"]
    assert {s["type"] for s in secrets} == {"helm.sh/release.v1"}

    rollback = cluster.helm("rollback", "demo", "1", "-n", namespace, "--wait", "--timeout", "1m0s")
    assert "Rollback was a success" in rollback.stdout
    history = yaml.safe_load(cluster.helm("history", "demo", "-n", namespace, "-o", "yaml").stdout)
    assert [(h["revision"], h["status"], h["description"]) for h in history] == [
        (1, "superseded", "Install complete"), (2, "superseded", "Upgrade complete"),
        (3, "deployed", "Rollback to 1")]
    assert cluster.get("configmap", "demo-config", "-n", namespace)["data"] == {"greeting": "hi"}
    assert yaml.safe_load(cluster.helm("get", "values", "demo", "-n", namespace, "-o", "yaml").stdout) == {
        "greeting": "hi"}

    run = cluster.playbook(f"""\
        - name: Uninstall
          kubernetes.core.helm: {{release_name: demo, release_namespace: {namespace}, state: absent, wait: true}}
          register: r_uninstall
        - name: Uninstall again
          kubernetes.core.helm: {{release_name: demo, release_namespace: {namespace}, state: absent}}
          register: r_uninstall_again
        """)
    assert run["r_uninstall"]["changed"] is True
    assert run["r_uninstall_again"]["changed"] is False
    assert cluster.kubectl("get", "deploy", "demo", "-n", namespace, check=False).returncode != 0
    assert cluster.get("secrets", "-n", namespace, "-l", "owner=helm")["items"] == []


def test_check_mode_installs_nothing(cluster: SandboxCluster, namespace: str, demo_chart: Path):
    task = _release_task("dry", namespace, demo_chart, {}, "r_check").replace(
        "  register: r_check", "  check_mode: true\n  register: r_check")
    assert "check_mode: true" in task
    run = cluster.playbook(task)
    assert run["r_check"]["changed"] is True
    assert cluster.helm("list", "-n", namespace, "-o", "json").stdout.strip() == "[]"
    assert cluster.get("configmaps", "-n", namespace)["items"] == []


def test_a_manifest_the_api_refuses_fails_the_release(cluster: SandboxCluster, namespace: str, demo_chart: Path):
    (demo_chart / "templates" / "bad.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: Not_A_Valid_Name\nspec:\n  ports: [{port: 80}]\n")
    result = cluster.helm("upgrade", "-i", "broken", str(demo_chart), "-n", namespace, check=False)
    assert result.returncode == 1
    assert 'metadata.name: Invalid value: "Not_A_Valid_Name"' in result.stderr
    releases = json.loads(cluster.helm("list", "-n", namespace, "-o", "json").stdout)
    assert [(r["name"], r["status"]) for r in releases] == [("broken", "failed")]


def test_cli_reports_version_plugins_and_renders_templates(cluster: SandboxCluster, demo_chart: Path):
    assert cluster.helm("version").stdout.startswith('version.BuildInfo{Version:"v4.')
    assert cluster.helm("plugin", "list").stdout.startswith("NAME\tVERSION")
    assert yaml.safe_load(cluster.helm("show", "chart", str(demo_chart)).stdout)["name"] == "demo"
    rendered = cluster.helm("template", "t", str(demo_chart), "--set", "greeting=yo").stdout
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    assert [d["kind"] for d in documents] == ["ConfigMap", "Deployment"]
    assert documents[0]["data"] == {"greeting": "yo"}
    missing = cluster.helm("status", "nope", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: ")


def test_helm_with_awx_style_credentials_only(cluster: SandboxCluster, namespace: str, demo_chart: Path):
    """AWX injects K8S_AUTH_HOST / K8S_AUTH_API_KEY; kubernetes.core.helm hands them to helm as HELM_KUBE*."""
    env = {"K8S_AUTH_KUBECONFIG": "", "KUBECONFIG": "", "K8S_AUTH_HOST": cluster.server,
           "K8S_AUTH_API_KEY": "awx-token"}
    run = cluster.playbook(_release_task("awx", namespace, demo_chart, {"greeting": "awx"}, "r_awx"), env=env)
    assert run["r_awx"]["changed"] is True
    assert cluster.get("configmap", "awx-config", "-n", namespace)["data"] == {"greeting": "awx"}
