"""kubernetes.core.helm / helm_info through the sandbox helm double (helm-python-sdk, Helm 4) and the helm CLI
commands the roles call directly."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import helm_python
import yaml

from sandbox.helm.info import SDK_BUILD_ENV, sdk_build
from sandbox.paths import REPO_ROOT
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
    # Only what the cluster puts in every namespace (the root-ca-cert-publisher's CA bundle).
    assert [c["metadata"]["name"] for c in cluster.get("configmaps", "-n", namespace)["items"]] == ["kube-root-ca.crt"]


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
    # `bin/helm` gives the SDK's build it read once, so `version` and `plugin list` (run before every
    # kubernetes.core.helm call) do not load the SDK: the same answer as the SDK's own, without it.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from sandbox.helm import cli; cli.main(sys.argv[1:]); "
                               "print('sdk loaded' if 'helm_python' in sys.modules else 'sdk not loaded')",
         "version", "--short"],
        env={**cluster.env, SDK_BUILD_ENV: " ".join(sdk_build())}, capture_output=True, text=True, check=True,
        cwd=REPO_ROOT)
    assert loaded.stdout == f"{helm_python.helm_sdk_version()}\nsdk not loaded\n"
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
           "K8S_AUTH_API_KEY": cluster.admin_token}  # a made-up token is a 401, as on a cluster
    run = cluster.playbook(_release_task("awx", namespace, demo_chart, {"greeting": "awx"}, "r_awx"), env=env)
    assert run["r_awx"]["changed"] is True
    assert cluster.get("configmap", "awx-config", "-n", namespace)["data"] == {"greeting": "awx"}


def test_global_flags_before_the_command_as_kubernetes_core_writes_them(cluster: SandboxCluster, namespace: str,
                                                                        demo_chart: Path):
    """kubernetes.core.helm with `chart_version` runs `helm --version=X show chart <ref>`, then `helm --version=X
    upgrade -i ...` (plugins/modules/helm.py main, fetch_chart_info, deploy): cobra takes flags before the
    subcommand (command.go stripFlags). For a local chart the version is not checked (action.LocateChart)."""
    shown = cluster.helm("--version=0.1.0", "show", "chart", str(demo_chart)).stdout
    assert yaml.safe_load(shown)["version"] == "0.1.0"
    task = _release_task("pinned", namespace, demo_chart, {"greeting": "pinned"}, "r_pinned")
    run = cluster.playbook(task.replace("    wait: true\n", "    chart_version: 0.1.0\n    wait: true\n"))
    assert run["r_pinned"]["changed"] is True
    assert run["r_pinned"]["command"].split()[1] == "--version=0.1.0"
    assert cluster.get("configmap", "pinned-config", "-n", namespace)["data"] == {"greeting": "pinned"}


def test_package_and_template_to_an_output_dir(cluster: SandboxCluster, demo_chart: Path, tmp_path: Path):
    """`helm package` (pkg/cmd/package.go) and `helm template --output-dir` (pkg/cmd/template.go writeToFile:
    one file per template, `wrote <path>` for each)."""
    packaged = cluster.helm("package", str(demo_chart), "-d", str(tmp_path), "--version", "0.2.0").stdout
    archive = tmp_path / "demo-0.2.0.tgz"
    assert packaged == f"Successfully packaged chart and saved it to: {archive}\n"
    assert yaml.safe_load(cluster.helm("show", "chart", str(archive)).stdout)["version"] == "0.2.0"
    written = cluster.helm("template", "t", str(archive), "--output-dir", str(tmp_path / "out")).stdout
    assert f"wrote {tmp_path / 'out'}/demo/templates/config.yaml" in written
    config = (tmp_path / "out" / "demo" / "templates" / "config.yaml").read_text()
    assert config.startswith("---\n# Source: demo/templates/config.yaml\n")
    assert yaml.safe_load(config.split("\n", 2)[2])["metadata"]["name"] == "t-config"


def test_a_chart_with_crds_installs_them_before_its_templates(cluster: SandboxCluster, namespace: str,
                                                              demo_chart: Path):
    """Helm installs `crds/` first, waits for them to be Established and resets its REST mapper before the
    templates (pkg/action/install.go installCRDs); `template --include-crds` prints them first; uninstall leaves
    them (CRDs are never deleted by Helm)."""
    (demo_chart / "crds").mkdir()
    (demo_chart / "crds" / "gizmos.yaml").write_text(textwrap.dedent("""\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: gizmos.example.org}
        spec:
          group: example.org
          scope: Namespaced
          names: {kind: Gizmo, plural: gizmos}
          versions:
          - name: v1
            served: true
            storage: true
            schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object,
                     properties: {size: {type: integer}}}}}}
        """))
    (demo_chart / "templates" / "gizmo.yaml").write_text(
        "apiVersion: example.org/v1\nkind: Gizmo\nmetadata: {name: '{{ .Release.Name }}'}\nspec: {size: 2}\n")
    rendered = cluster.helm("template", "g", str(demo_chart), "--include-crds").stdout
    assert rendered.startswith("---\n# Source: demo/crds/gizmos.yaml\n")
    try:
        cluster.helm("install", "g", str(demo_chart), "-n", namespace)
        assert cluster.get("gizmo", "g", "-n", namespace)["spec"] == {"size": 2}
        cluster.helm("uninstall", "g", "-n", namespace)
        assert cluster.kubectl("get", "crd", "gizmos.example.org", "-o", "name").stdout.strip()
    finally:
        cluster.kubectl("delete", "crd", "gizmos.example.org", check=False)
