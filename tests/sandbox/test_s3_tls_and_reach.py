"""The sandbox's S3 as a company's object store is: HTTPS with a certificate of a private CA (the sandbox's S3 CA,
bundle in `<state>/s3-tls/ca.crt`), so an ObjectStore without `endpointCA` cannot archive or back up while one with
it can; plain HTTP stays selectable; and, in-cluster only, a name pods resolve and the control node does not.

Real sources: the Barman Cloud Plugin projects the ObjectStore's `endpointCA` Secret key into the sidecar
(plugin-barman-cloud internal/cnpgi/operator/lifecycle_certificates.go, /barman-certificates/<store>/barman-ca.crt)
and names it by AWS_CA_BUNDLE (cloudnative-pg/barman-cloud pkg/credentials/env.go,
EnvSetCloudCredentialsAndCertificates; botocore/configprovider.py reads it as `ca_bundle`); without it boto3
verifies against the system's CAs and botocore raises SSLError "SSL validation failed for <url> [SSL:
CERTIFICATE_VERIFY_FAILED] certificate verify failed" (botocore/exceptions.py, raised by httpsession.py);
barman-cloud-wal-archive then exits non-zero and the plugin's first Archive call fails
(internal/cnpgi/common/wal.go), so the Cluster's ContinuousArchiving is False with the archiver's error.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from tests.sandbox.cluster import SandboxCluster
from tests.sandbox.runtime_stack import Stack, wait_until
from tests.support.leftovers import kill_all, processes_under

pytestmark = [pytest.mark.slow]

PLUGIN = "barman-cloud.cloudnative-pg.io"
BUCKET = "tls-backups"
VERIFY_FAILED = "CERTIFICATE_VERIFY_FAILED"


@contextlib.contextmanager
def _sandbox(**options: str) -> Iterator[SandboxCluster]:
    root = Path(tempfile.mkdtemp(prefix="sandbox-s3-tests-"))
    sandbox = SandboxCluster(root, **options)
    try:
        yield sandbox.start()
    finally:
        sandbox.stop()
    leftovers = processes_under(root)
    kill_all(leftovers)
    shutil.rmtree(root, ignore_errors=True)
    assert not leftovers, f"`sandbox down` left processes running: {leftovers}"


@pytest.fixture(name="tls_sandbox", scope="module")
def fixture_tls_sandbox() -> Iterator[SandboxCluster]:
    """The default: HTTPS, an external endpoint."""
    with _sandbox() as sandbox:
        yield sandbox


@pytest.fixture(name="in_cluster_sandbox", scope="module")
def fixture_in_cluster_sandbox() -> Iterator[SandboxCluster]:
    with _sandbox(s3_reach="in-cluster") as sandbox:
        yield sandbox


def _namespace(cluster: SandboxCluster, prefix: str) -> Stack:
    """A namespace with the S3 credentials and the S3 CA bundle as Secrets (what deploy would create)."""
    stack = Stack(cluster, f"{prefix}-{uuid.uuid4().hex[:6]}")
    s3 = stack.info["s3"]
    cluster.kubectl("create", "namespace", stack.namespace)
    cluster.kubectl("-n", stack.namespace, "create", "secret", "generic", "s3-credentials",
                    f"--from-literal=AWS_ACCESS_KEY_ID={s3['access_key_id']}",
                    f"--from-literal=AWS_SECRET_ACCESS_KEY={s3['secret_access_key']}")
    cluster.kubectl("-n", stack.namespace, "create", "secret", "generic", "s3-ca",
                    f"--from-file=ca.crt={s3['ca_bundle']}")
    return stack


def _object_store(name: str, endpoint: str, namespace: str, with_ca: bool) -> dict:
    configuration = {"destinationPath": f"s3://{BUCKET}/{namespace}", "endpointURL": endpoint,
                     "s3Credentials": {"accessKeyId": {"name": "s3-credentials", "key": "AWS_ACCESS_KEY_ID"},
                                       "secretAccessKey": {"name": "s3-credentials", "key": "AWS_SECRET_ACCESS_KEY"}},
                     "wal": {"compression": "gzip"}}
    if with_ca:
        configuration["endpointCA"] = {"name": "s3-ca", "key": "ca.crt"}
    return {"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore", "metadata": {"name": name},
            "spec": {"configuration": configuration}}


def _cluster(name: str, store: str) -> dict:
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": name},
            "spec": {"instances": 1, "storage": {"size": "1Gi"},
                     "bootstrap": {"initdb": {"database": "app", "owner": "app"}},
                     "plugins": [{"name": PLUGIN, "isWALArchiver": True,
                                  "parameters": {"barmanObjectName": store, "serverName": name}}]}}


def _backup(name: str, cluster: str) -> dict:
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup", "metadata": {"name": name},
            "spec": {"cluster": {"name": cluster}, "method": "plugin", "pluginConfiguration": {"name": PLUGIN}}}


def _archiving(stack: Stack, cluster: str, reason: str, timeout: float = 120) -> dict:
    def reached():
        found = [c for c in (stack.get("clusters.postgresql.cnpg.io", cluster).get("status") or {})
                 .get("conditions") or [] if c["type"] == "ContinuousArchiving"]
        return found[0] if found and found[0]["reason"] == reason else None
    return wait_until(reached, timeout, f"{cluster} ContinuousArchiving {reason}", interval=1)


def _finished_backup(stack: Stack, name: str) -> dict:
    return wait_until(lambda: (s := stack.get("backups.postgresql.cnpg.io", name).get("status") or {})
                      .get("phase") in ("completed", "failed") and s, 180, f"backup {name} to finish", interval=1)


def _s3_from(env: dict[str, str], s3: dict) -> subprocess.CompletedProcess:
    """boto3 in a process with `env`'s resolver: what a module on the control node, or a pod, would run."""
    code = ("import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='k', "
            "aws_secret_access_key='s', region_name='us-east-1', verify=sys.argv[2]).list_buckets(); print('reached')")
    return subprocess.run([sys.executable, "-c", code, s3["endpoint"], s3["ca_bundle"]], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_https_is_the_default_and_its_ca_bundle_is_reported(tls_sandbox: SandboxCluster):
    info = json.loads(tls_sandbox.sandbox("status").stdout)["s3"]
    assert info["scheme"] == "https" and info["reach"] == "external" and info["endpoint"].startswith("https://")
    assert Path(info["ca_bundle"]) == tls_sandbox.state_dir / "s3-tls" / "ca.crt"
    env_sh = (tls_sandbox.state_dir / "env.sh").read_text()
    assert f'export SANDBOX_S3_CA_BUNDLE="{info["ca_bundle"]}"' in env_sh
    assert f'export SANDBOX_S3_ENDPOINT="{info["endpoint"]}"' in env_sh

    def client(verify):
        return boto3.client("s3", endpoint_url=info["endpoint"], aws_access_key_id=info["access_key_id"],
                            aws_secret_access_key=info["secret_access_key"], region_name=info["region"],
                            verify=verify)
    # botocore's SSLError, as against any server whose CA the client does not trust; the cluster CA (every pod's
    # kube-root-ca.crt) is another CA and does not help.
    for untrusted in (True, str(tls_sandbox.ca_file)):
        with pytest.raises(botocore.exceptions.SSLError, match=VERIFY_FAILED):
            client(untrusted).list_buckets()
    client(info["ca_bundle"]).create_bucket(Bucket=BUCKET)


def test_an_object_store_needs_the_ca_to_archive_and_back_up(tls_sandbox: SandboxCluster):
    stack = _namespace(tls_sandbox, "tls")
    endpoint = stack.info["s3"]["endpoint"]
    stack.apply(_object_store("without-ca", endpoint, stack.namespace, with_ca=False))
    stack.apply(_object_store("with-ca", endpoint, stack.namespace, with_ca=True))
    stack.apply(_cluster("pg-without-ca", "without-ca"))
    stack.apply(_cluster("pg-with-ca", "with-ca"))

    failing = _archiving(stack, "pg-without-ca", "ContinuousArchivingFailing")
    assert failing["status"] == "False" and VERIFY_FAILED in failing["message"], failing
    _archiving(stack, "pg-with-ca", "ContinuousArchivingSuccess")

    stack.apply(_backup("without-ca-1", "pg-without-ca"))
    stack.apply(_backup("with-ca-1", "pg-with-ca"))
    failed = _finished_backup(stack, "without-ca-1")
    assert failed["phase"] == "failed" and VERIFY_FAILED in failed["error"], failed
    completed = _finished_backup(stack, "with-ca-1")
    assert completed["phase"] == "completed", completed

    keys = [o["Key"] for o in stack.s3().list_objects_v2(Bucket=BUCKET, Prefix=f"{stack.namespace}/")["Contents"]]
    assert f"{stack.namespace}/pg-with-ca/base/{completed['backupId']}/backup.info" in keys
    assert any(key.startswith(f"{stack.namespace}/pg-with-ca/wals/") for key in keys), keys
    assert not any(key.startswith(f"{stack.namespace}/pg-without-ca/") for key in keys), keys
    tls_sandbox.kubectl("delete", "namespace", stack.namespace, "--wait=false", check=False)


def test_an_endpoint_ca_secret_that_does_not_exist_stops_the_cluster_as_the_missing_mount_would(
        tls_sandbox: SandboxCluster):
    stack = _namespace(tls_sandbox, "noca")
    store = _object_store("missing-ca", stack.info["s3"]["endpoint"], stack.namespace, with_ca=True)
    store["spec"]["configuration"]["endpointCA"]["name"] = "no-such-secret"
    stack.apply(store)
    stack.apply(_cluster("pg-missing-ca", "missing-ca"))

    def phase_reason() -> str:
        return (stack.get("clusters.postgresql.cnpg.io", "pg-missing-ca").get("status") or {}).get("phaseReason", "")
    reason = wait_until(lambda: (found := phase_reason()).startswith("endpointCA") and found, 60,
                        "the missing endpointCA Secret to be reported", interval=1)
    assert 'secret "no-such-secret" not found' in reason
    tls_sandbox.kubectl("delete", "namespace", stack.namespace, "--wait=false", check=False)


def test_plain_http_remains_selectable():
    with _sandbox(s3_scheme="http") as cluster:
        info = json.loads(cluster.sandbox("status").stdout)["s3"]
        assert info["scheme"] == "http" and info["endpoint"].startswith("http://127.0.0.1:")
        assert info["ca_bundle"] is None
        assert 'export SANDBOX_S3_CA_BUNDLE=""' in (cluster.state_dir / "env.sh").read_text()
        boto3.client("s3", endpoint_url=info["endpoint"], aws_access_key_id=info["access_key_id"],
                     aws_secret_access_key=info["secret_access_key"], region_name=info["region"]).list_buckets()


def test_in_cluster_s3_is_a_name_pods_resolve_and_the_control_node_does_not(in_cluster_sandbox: SandboxCluster):
    stack = _namespace(in_cluster_sandbox, "incl")
    s3 = stack.info["s3"]
    assert s3["reach"] == "in-cluster" and s3["endpoint"].startswith("https://s3.sandbox-s3.svc:")
    stack.apply(_object_store("in-cluster", s3["endpoint"], stack.namespace, with_ca=True))
    stack.apply(_cluster("pg-in-cluster", "in-cluster"))
    # barman-cloud in the instance's pod resolves the name, archives and backs up.
    _archiving(stack, "pg-in-cluster", "ContinuousArchivingSuccess")
    stack.apply(_backup("in-cluster-1", "pg-in-cluster"))
    assert _finished_backup(stack, "in-cluster-1")["phase"] == "completed"

    control_node = _s3_from(stack.resolver_env(), s3)  # `sandbox status` resolver_env: Route hosts only
    assert control_node.returncode != 0 and "Could not connect to the endpoint URL" in control_node.stderr, \
        control_node.stderr[-2000:]
    in_pod = _s3_from(stack.pod_resolver_env(), s3)
    assert in_pod.returncode == 0 and "reached" in in_pod.stdout, in_pod.stderr[-2000:]
    in_cluster_sandbox.kubectl("delete", "namespace", stack.namespace, "--wait=false", check=False)
