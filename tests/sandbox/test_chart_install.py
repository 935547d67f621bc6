"""The project's chart (charts/mlflow) installs through kubernetes.core.helm into the sandbox, with every object
it renders accepted by the API server's schema validation."""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

from tests.sandbox.cluster import REPO_ROOT, SandboxCluster

CHART = REPO_ROOT / "charts" / "mlflow"

pytestmark = pytest.mark.skipif(not (CHART / "Chart.yaml").is_file(), reason="charts/mlflow is not in this checkout")


def _install(namespace: str, wait: bool, register: str) -> str:
    return f"""\
        - name: Install the MLflow chart
          kubernetes.core.helm:
            release_name: mlflow
            release_namespace: {namespace}
            create_namespace: true
            chart_ref: {CHART}
            release_values: {{}}
            wait: {str(wait).lower()}
            timeout: 2m0s
          register: {register}
        """


def test_chart_installs_waits_and_is_idempotent(cluster: SandboxCluster):
    """The BuildConfig has no trigger (the playbooks start a build of a missing image: roles/common/tasks/
    wait_image.yml), so the image exists, and the Deployment can become ready, only once a build was started; then
    an install that waits for readiness finishes, and changes nothing."""
    namespace = f"mlflow-{uuid.uuid4().hex[:6]}"
    first = cluster.playbook(_install(namespace, False, "r_first"))
    assert first["r_first"]["changed"] is True
    assert first["r_first"]["status"]["status"] == "deployed"
    build_configs = json.loads(cluster.kubectl("get", "buildconfigs.build.openshift.io", "-n", namespace,
                                               "-o", "json").stdout)["items"]
    assert [bc["spec"]["triggers"] for bc in build_configs] == [[]]
    name = build_configs[0]["metadata"]["name"]
    request = {"kind": "BuildRequest", "apiVersion": "build.openshift.io/v1", "metadata": {"name": name}}
    cluster.kubectl("create", "--raw", f"/apis/build.openshift.io/v1/namespaces/{namespace}/buildconfigs/{name}/instantiate",
                    "-f", "-", stdin=json.dumps(request))
    run = cluster.playbook(_install(namespace, True, "r_second"))
    assert run["r_second"]["changed"] is False
    assert run["r_second"]["status"]["status"] == "deployed"
    deployment = json.loads(cluster.kubectl("get", "deployment", "mlflow", "-n", namespace, "-o", "json").stdout)
    assert deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"]

    manifest = cluster.helm("get", "manifest", "mlflow", "-n", namespace).stdout
    rendered = [doc for doc in yaml.safe_load_all(manifest) if doc]
    assert rendered, "the release has no objects"
    kinds = {doc["kind"] for doc in rendered}
    # Installed into a cluster that serves the OpenShift groups, the chart renders its OpenShift objects.
    assert {"Cluster", "Deployment", "Route", "BuildConfig", "ImageStream"} <= kinds
    for doc in rendered:
        resource = f"{doc['kind'].lower()}.{doc['apiVersion'].split('/')[0]}" if "/" in doc["apiVersion"] \
            else doc["kind"].lower()
        stored = json.loads(cluster.kubectl("get", resource, doc["metadata"]["name"], "-n", namespace,
                                            "-o", "json").stdout)
        assert stored["metadata"]["uid"], f"{doc['kind']}/{doc['metadata']['name']} was not stored"

    cluster_name = next(doc["metadata"]["name"] for doc in rendered if doc["kind"] == "Cluster")
    cluster.kubectl("wait", f"clusters.postgresql.cnpg.io/{cluster_name}", "-n", namespace,
                    "--for=condition=Ready", "--timeout=30s")
    app_secret = cluster.get("secret", f"{cluster_name}-app", "-n", namespace)
    assert {"username", "password", "host", "dbname", "uri"} <= set(app_secret["data"])
    cluster.helm("uninstall", "mlflow", "-n", namespace, "--wait")
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
