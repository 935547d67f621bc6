"""object_store_info, and the common role's object_store entry point that wraps it, through ansible-playbook against
the sandbox API server (stand-in controllers: the objects only, validated against CNPG's and the plugin's schemas):
the store a cluster's WAL archiver names, with its credentials and CA bundle; the fallback when the cluster is gone;
what is missing when the store or a Secret it names does not exist; and the keys never in the output, at -vvv."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.sandbox.cluster import SandboxCluster
from tests.support.ansible_run import run_module

MODULE = "mlops.mlflow.object_store_info"
NAMESPACE = "stores"
PLUGIN = "barman-cloud.cloudnative-pg.io"
ACCESS_KEY = "AKIAOBJECTSTOREINFO1"
SECRET_KEY = "s3cr3t/with+chars=="
PEM = "-----BEGIN CERTIFICATE-----\nMIIBobjectstoreinfo\n-----END CERTIFICATE-----\n"


def apply(cluster: SandboxCluster, manifest: dict) -> None:
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=json.dumps(manifest))


def secret(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


def object_store(name: str, ca: dict | None = None, credentials: str = "s3-keys") -> dict:
    configuration = {"destinationPath": f"s3://backups/{name}", "endpointURL": "https://s3.example.internal",
                     "s3Credentials": {"accessKeyId": {"name": credentials, "key": "ACCESS_KEY_ID"},
                                       "secretAccessKey": {"name": credentials, "key": "SECRET_ACCESS_KEY"}}}
    if ca:
        configuration["endpointCA"] = ca
    return {"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore", "metadata": {"name": name},
            "spec": {"configuration": configuration}}


@pytest.fixture(name="cluster", scope="module")
def fixture_cluster():
    root = Path(tempfile.mkdtemp(prefix="object-store-tests-"))
    cluster = SandboxCluster(root, controllers="stand-in").start()
    cluster.kubectl("create", "namespace", NAMESPACE)
    apply(cluster, secret("s3-keys", ACCESS_KEY_ID=ACCESS_KEY, SECRET_ACCESS_KEY=SECRET_KEY))
    apply(cluster, secret("s3-ca", **{"ca.crt": PEM}))
    apply(cluster, object_store("archive", ca={"name": "s3-ca", "key": "ca.crt"}))
    apply(cluster, object_store("fallback"))
    apply(cluster, object_store("no-ca", ca={"name": "s3-ca", "key": "other.crt"}))
    apply(cluster, object_store("no-keys", credentials="missing-keys"))
    apply(cluster, {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
                    "spec": {"instances": 1, "imageName": "ghcr.io/cloudnative-pg/postgresql:17.5",
                             "storage": {"size": "1Gi"},
                             "plugins": [{"name": PLUGIN, "isWALArchiver": True,
                                          "parameters": {"barmanObjectName": "archive", "serverName": "pg"}}]}})
    labels = {"app": "mlflow"}
    apply(cluster, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mlflow"},
                    "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "mlflow", "image": "quay.io/example/mlflow:3.5.0"}]}}}})
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def locate(sandbox: SandboxCluster, **options):
    env = {key: sandbox.env[key] for key in ("K8S_AUTH_KUBECONFIG", "TMPDIR", "HOME")}
    run = run_module(MODULE, {"namespace": NAMESPACE, **options}, env=env)
    assert run.report, run.stdout[-3000:]
    return run


def test_the_store_the_archiver_names_with_its_keys_and_ca_bundle(cluster):
    run = locate(cluster, cluster="pg", object_store_name="fallback")
    assert run.returncode == 0, run.stdout[-3000:]
    result = run.result
    store = result["object_store"]
    assert store["destination_path"] == "s3://backups/archive" and store["endpoint_url"] == "https://s3.example.internal"
    assert (store["access_key_id"], store["secret_access_key"], store["region"]) == (ACCESS_KEY, SECRET_KEY, None)
    assert Path(store["ca_bundle"]).read_text() == PEM and oct(Path(store["ca_bundle"]).stat().st_mode)[-3:] == "644"
    assert result["catalog_job"] == {"namespace": NAMESPACE, "object_store_name": "archive",
                                     "image": "quay.io/example/mlflow:3.5.0"}
    assert result["cluster_image"] == "ghcr.io/cloudnative-pg/postgresql:17.5"
    assert result["cluster"]["metadata"]["name"] == "pg" and result["deployment"]["spec"]["replicas"] == 2
    assert result["object_store_resource"]["metadata"]["name"] == "archive" and result["changed"] is False


def test_a_cluster_that_is_gone_falls_back_to_the_named_store(cluster):
    run = locate(cluster, cluster="pg-gone", object_store_name="fallback", deployment="none",
                 catalog_image="quay.io/example/catalog:1")
    assert run.returncode == 0, run.stdout[-3000:]
    result = run.result
    assert result["cluster"] == {} and result["cluster_image"] == "" and result["deployment"] == {}
    assert result["object_store"]["destination_path"] == "s3://backups/fallback"
    assert result["object_store"]["ca_bundle"] is None
    assert result["catalog_job"]["image"] == "quay.io/example/catalog:1"


@pytest.mark.parametrize("store, expected", [
    ("nowhere", f"No ObjectStore for cluster pg-gone in {NAMESPACE}: its backups cannot be located. Check `kubectl -n "
                f"{NAMESPACE} get objectstores` and the cluster's spec.plugins."),
    ("no-ca", f"The ObjectStore's endpointCA names Secret {NAMESPACE}/s3-ca key other.crt, which does not exist: "
              f"barman-cloud cannot verify the endpoint either. Create it (kubectl -n {NAMESPACE} create secret generic "
              "s3-ca --from-file=other.crt=ca.crt)."),
    ("no-keys", f"The ObjectStore's s3Credentials.accessKeyId names Secret {NAMESPACE}/missing-keys key ACCESS_KEY_ID,"
                " which does not exist: barman-cloud cannot reach the store with it either"),
])
def test_what_is_missing_is_named(cluster, store, expected):
    run = locate(cluster, cluster="pg-gone", object_store_name=store)
    assert run.returncode != 0
    assert run.result["msg"].startswith(expected), run.result["msg"]


def test_the_role_shows_the_error_and_never_the_keys_at_vvv(cluster):
    tasks = """
- name: Locate
  ansible.builtin.include_role:
    name: mlops.mlflow.common
    tasks_from: object_store
  vars:
    common_namespace: {namespace}
    common_cluster_name: {name}
    common_object_store_name: {store}
- name: Keep what it set
  ansible.builtin.set_fact:
    r_found: "{{{{ common_object_store.access_key_id == '{key}' and common_catalog_job.object_store_name }}}}"
"""
    found = cluster.playbook(tasks.format(namespace=NAMESPACE, name="pg", store="fallback", key=ACCESS_KEY),
                             env={"ANSIBLE_VERBOSITY": "3"})
    assert found["r_found"] == "archive"
    failed = cluster.playbook(tasks.format(namespace=NAMESPACE, name="pg-gone", store="no-ca", key=ACCESS_KEY),
                              env={"ANSIBLE_VERBOSITY": "3"}, check=False)
    assert failed.returncode != 0
    assert "The ObjectStore's endpointCA names Secret" in failed.output
    for run in (found, failed):
        for value in (ACCESS_KEY, SECRET_KEY, base64.b64encode(SECRET_KEY.encode()).decode()):
            assert value not in run.output
