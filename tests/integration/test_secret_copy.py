"""secret_copy through ansible-playbook against the sandbox API server (stand-in controllers: the objects only): the
copies made with their type, data and labels; a second run changes nothing; a changed source patches its copy (a key
it no longer has removed); a missing Secret skipped, or (fail_on_missing) refused before anything is copied; a copy
whose type differs refused (a Secret's type is immutable: kubernetes pkg/apis/core/validation ValidateSecretUpdate);
check mode writes nothing; and the data never in the output, at -vvv."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.sandbox.cluster import SandboxCluster
from tests.support.ansible_run import run_module

MODULE = "mlops.mlflow.secret_copy"
SOURCE, TARGET = "production", "drill"
KEY = "AKIASECRETCOPY000001"
SECRET = "s3cr3t/copy+chars=="


def encoded(**data: str) -> dict:
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


def apply(cluster: SandboxCluster, namespace: str, name: str, secret_type: str = "Opaque", **data: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "type": secret_type, "metadata": {"name": name},
         "data": encoded(**data)}))


def read(cluster: SandboxCluster, namespace: str, name: str) -> dict:
    found = cluster.kubectl("get", "secret", "-n", namespace, name, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else {}


@pytest.fixture(name="cluster")
def fixture_cluster():
    root = Path(tempfile.mkdtemp(prefix="secret-copy-tests-"))
    cluster = SandboxCluster(root, controllers="stand-in").start()
    for namespace in (SOURCE, TARGET):
        cluster.kubectl("create", "namespace", namespace)
    apply(cluster, SOURCE, "s3-credentials", AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    apply(cluster, SOURCE, "mlflow-auth-config", **{"basic-auth.ini": "[mlflow]\ndefault_permission = READ\n"})
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def copy(cluster: SandboxCluster, check: bool = False, verbosity: int = 0, **options):
    env = {key: cluster.env[key] for key in ("K8S_AUTH_KUBECONFIG", "TMPDIR", "HOME")}
    arguments = {"names": ["s3-credentials", "mlflow-auth-config"], "source_namespace": SOURCE, "namespace": TARGET,
                 "labels": {"mlops.mlflow/drill": "t1"}, **options}
    run = run_module(MODULE, arguments, check=check, env=env, verbosity=verbosity)
    assert run.report, run.stdout[-3000:]
    return run


def test_copies_are_made_then_left_alone_then_follow_their_source(cluster):
    run = copy(cluster, verbosity=3)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.result["changed"] is True and run.result["copied"] == ["s3-credentials", "mlflow-auth-config"]
    made = read(cluster, TARGET, "s3-credentials")
    assert made["data"] == encoded(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET) and made["type"] == "Opaque"
    assert made["metadata"]["labels"] == {"mlops.mlflow/drill": "t1"}
    for value in (KEY, SECRET, encoded(x=SECRET)["x"]):
        assert value not in run.stdout

    again = copy(cluster)
    assert again.returncode == 0 and again.result["changed"] is False, again.stdout[-3000:]
    assert again.result["unchanged"] == ["s3-credentials", "mlflow-auth-config"] and again.result["copied"] == []

    # The source lost a key and changed another: the copy follows, the lost key removed.
    cluster.kubectl("delete", "secret", "-n", SOURCE, "s3-credentials")
    apply(cluster, SOURCE, "s3-credentials", AWS_ACCESS_KEY_ID="AKIAROTATED000000002")
    followed = copy(cluster)
    assert followed.returncode == 0 and followed.result["copied"] == ["s3-credentials"], followed.stdout[-3000:]
    assert read(cluster, TARGET, "s3-credentials")["data"] == encoded(AWS_ACCESS_KEY_ID="AKIAROTATED000000002")


def test_check_mode_writes_nothing(cluster):
    run = copy(cluster, check=True)
    assert run.returncode == 0 and run.result["changed"] is True, run.stdout[-3000:]
    assert run.result["copied"] == ["s3-credentials", "mlflow-auth-config"]
    assert read(cluster, TARGET, "s3-credentials") == {} and read(cluster, TARGET, "mlflow-auth-config") == {}


def test_a_missing_secret_is_skipped_or_refused_before_anything_is_copied(cluster):
    names = ["s3-credentials", "mlflow-flask-secret"]
    run = copy(cluster, names=names)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.result["copied"] == ["s3-credentials"] and run.result["missing"] == ["mlflow-flask-secret"]

    cluster.kubectl("delete", "secret", "-n", TARGET, "s3-credentials")
    refused = copy(cluster, names=names, fail_on_missing=True)
    assert refused.returncode != 0
    assert refused.result["msg"] == ("no Secret mlflow-flask-secret in namespace production; nothing was copied. "
                                     "Create it, or leave it out of the names")
    assert read(cluster, TARGET, "s3-credentials") == {}


def test_a_copy_of_another_type_is_refused_and_the_same_namespace_too(cluster):
    apply(cluster, TARGET, "mlflow-auth-config", secret_type="kubernetes.io/basic-auth", username="u", password="p")
    run = copy(cluster)
    assert run.returncode != 0
    assert run.result["msg"].startswith("Secret drill/mlflow-auth-config exists with type kubernetes.io/basic-auth,"
                                        " the source's is Opaque: a Secret's type cannot change."), run.result
    same = copy(cluster, namespace=SOURCE)
    assert same.returncode != 0 and "cannot be copied onto itself" in same.result["msg"]
