"""Fixtures: one sandbox per test session (own port, state folder, TMPDIR and HOME, stopped at the end), a
fresh namespace per test, the API semantics in-process, and a small demo chart."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.apiserver.operations import Api
from sandbox.apiserver.resources import registry
from sandbox.apiserver.server import bootstrap
from sandbox.apiserver.store import Store
from tests.sandbox.cluster import SandboxCluster
from tests.support.leftovers import kill_all, processes_under


@pytest.fixture(name="cluster", scope="session")
def fixture_cluster() -> Iterator[SandboxCluster]:
    root = Path(tempfile.mkdtemp(prefix="sandbox-tests-"))
    # The API-semantics tests need no processes behind the objects: the stand-in controllers keep them fast.
    sandbox = SandboxCluster(root, controllers="stand-in").start()
    yield sandbox
    sandbox.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(name="real_cluster", scope="session")
def fixture_real_cluster() -> Iterator[SandboxCluster]:
    """A sandbox with real processes behind the objects (PostgreSQL, MLflow, barman-cloud, moto S3)."""
    root = Path(tempfile.mkdtemp(prefix="sandbox-runtime-tests-"))
    # The default S3: HTTPS signed by the sandbox's S3 CA, which runtime_stack passes as deploy.yml does (the s3-ca
    # Secret named by the chart's endpointCA values).
    sandbox = SandboxCluster(root).start()
    yield sandbox
    sandbox.stop()
    leftovers = processes_under(root)
    kill_all(leftovers)
    shutil.rmtree(root, ignore_errors=True)
    assert not leftovers, f"`sandbox down` left processes running: {leftovers}"


@pytest.fixture
def namespace(cluster: SandboxCluster) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def api() -> Api:
    """An API server's semantics in-process (no HTTP, no controllers), with the bootstrap namespaces."""
    instance = Api(Store(), registry())
    bootstrap(instance)
    return instance


@pytest.fixture(name="demo_chart")
def fixture_demo_chart(tmp_path: Path) -> Path:
    """A small chart: a ConfigMap from values and a Deployment Helm waits for."""
    chart = tmp_path / "demo"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: '1.0'\n")
    (chart / "values.yaml").write_text("greeting: hello\nreplicas: 1\n")
    (chart / "templates" / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n")
    (chart / "templates" / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n"
        "  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: {{ .Release.Name }}}}\n"
        "  template:\n    metadata: {labels: {app: {{ .Release.Name }}}}\n"
        "    spec: {containers: [{name: app, image: 'busybox:1.36'}]}\n")
    (chart / "templates" / "NOTES.txt").write_text("Greeting is {{ .Values.greeting }}.\n")
    return chart
