"""`python -m sandbox up|status|down` with a snapshot, and HTTP behaviour clients depend on: the OpenAPI v3
documents, watch streams, and honest errors for what is not served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import requests

from tests.sandbox.cluster import REPO_ROOT, SandboxCluster


def _sandbox(state, *args, check=True):
    return subprocess.run([sys.executable, "-m", "sandbox", "--state-dir", str(state), *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60, check=check)


def test_up_status_down_and_a_persisted_store(tmp_path):
    state = tmp_path / "state"
    first = _sandbox(state, "up", "--persist")
    try:
        kubeconfig = first.stdout.strip()
        assert kubeconfig == str(state / "kubeconfig")
        assert _sandbox(state, "up", "--persist").stdout.strip() == kubeconfig  # already running: same answer
        status = json.loads(_sandbox(state, "status").stdout)
        pid = status["pid"]
        session = requests.Session()
        created = session.post(f"{status['server']}/api/v1/namespaces/default/configmaps",
                               json={"metadata": {"name": "kept"}, "data": {"a": "1"}}, timeout=10)
        assert created.status_code == 201
    finally:
        _sandbox(state, "down")
    assert not os.path.exists(f"/proc/{pid}")
    assert _sandbox(state, "status", check=False).returncode == 3
    _sandbox(state, "up", "--persist")
    try:
        server = json.loads(_sandbox(state, "status").stdout)["server"]
        kept = requests.get(f"{server}/api/v1/namespaces/default/configmaps/kept", timeout=10)
        assert kept.status_code == 200 and kept.json()["data"] == {"a": "1"}
    finally:
        _sandbox(state, "down")


def test_openapi_v3_declares_field_validation_on_patch(cluster: SandboxCluster):
    root = requests.get(f"{cluster.server}/openapi/v3", timeout=10).json()
    url = root["paths"]["apis/postgresql.cnpg.io/v1"]["serverRelativeURL"]
    document = requests.get(f"{cluster.server}{url}", timeout=10).json()
    patch = document["paths"]["/apis/postgresql.cnpg.io/v1/namespaces/{namespace}/clusters/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "postgresql.cnpg.io", "version": "v1",
                                                        "kind": "Cluster"}
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert "io.cnpg.postgresql.v1.Cluster" in document["components"]["schemas"]


def test_watch_streams_changes_from_a_resource_version(cluster: SandboxCluster, namespace: str):
    base = f"{cluster.server}/api/v1/namespaces/{namespace}/configmaps"
    created = requests.post(base, json={"metadata": {"name": "w"}, "data": {"n": "0"}}, timeout=10).json()
    events: list[dict] = []

    def watch():
        with requests.get(base, params={"watch": "true", "resourceVersion": created["metadata"]["resourceVersion"],
                                        "fieldSelector": "metadata.name=w", "timeoutSeconds": "5"},
                          stream=True, timeout=20) as answer:
            for line in answer.iter_lines():
                if line:
                    events.append(json.loads(line))
                    if len(events) == 3:
                        return

    reader = threading.Thread(target=watch)
    reader.start()
    requests.patch(f"{base}/w", data=json.dumps({"data": {"n": "1"}}), timeout=10,
                   headers={"Content-Type": "application/merge-patch+json"})
    requests.post(base, json={"metadata": {"name": "other"}}, timeout=10)  # filtered out by the field selector
    requests.delete(f"{base}/w", timeout=10)
    requests.post(base, json={"metadata": {"name": "w"}, "data": {"n": "2"}}, timeout=10)
    reader.join(timeout=30)
    seen = [(e["type"], e["object"]["data"]["n"]) for e in events]
    assert seen == [("MODIFIED", "1"), ("DELETED", "1"), ("ADDED", "2")]

    with requests.get(base, params={"watch": "true", "sendInitialEvents": "true", "allowWatchBookmarks": "true",
                                    "resourceVersionMatch": "NotOlderThan", "timeoutSeconds": "1"},
                      stream=True, timeout=20) as answer:
        initial = [json.loads(line) for line in answer.iter_lines() if line]
    # kube-root-ca.crt: the CA bundle the root-ca-cert-publisher puts in every namespace.
    assert sorted(e["object"]["metadata"]["name"] for e in initial if e["type"] == "ADDED") == [
        "kube-root-ca.crt", "other", "w"]
    assert initial[3]["type"] == "BOOKMARK"
    assert initial[3]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_what_is_not_served_is_an_error_not_a_silent_success(cluster: SandboxCluster, namespace: str):
    base = f"{cluster.server}/apis/batch/v1/namespaces/{namespace}/jobs"
    assert requests.put(base, json={}, timeout=10).status_code == 405
    unknown = requests.get(f"{cluster.server}/apis/example.com/v1/namespaces/{namespace}/widgets", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["kind"] == "Status"
    protobuf_job = requests.post(base, data=b"k8s\x00\x0a\x0f\x0a\x08batch/v1\x12\x03Job\x12\x00", timeout=10,
                                 headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert protobuf_job.status_code == 415
    assert "send JSON" in protobuf_job.json()["message"]
