"""An S3 API on loopback: a moto server, started with the sandbox (or a test session) and stopped with it.

Any access key is accepted; `sandbox status` prints the endpoint and the keys the sandbox suggests. Nothing is
persisted across restarts (moto keeps buckets in memory).

The sandbox's S3 serves HTTPS by default, with a certificate signed by its own S3 CA (sandbox/pki.py), whose
bundle is `<state>/s3-tls/ca.crt`: a client that does not trust that bundle fails verification, as against a
company's MinIO or Ceph with a private CA. Plain HTTP remains selectable. It is reached as an external endpoint
(`https://127.0.0.1:<port>`, what the control node can use) and by a Service-like name that only pods resolve
(`https://s3.sandbox-s3.svc:<port>`: runtime/network.py puts it in the pods' hosts files, not in the control
node's), as a MinIO in the cluster has a Service and may have a Route. `reach` says which of the two the sandbox
gives clients: with `in-cluster` the control node has no address for the store at all.
"""

from __future__ import annotations

import ssl
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import pki
from .network import free_port
from .processes import Process

ACCESS_KEY_ID = "sandbox-access-key"
SECRET_ACCESS_KEY = "sandbox-secret-key"
REGION = "us-east-1"
# The in-cluster name: a Service-like name of an object store run inside the cluster (as a MinIO would be).
IN_CLUSTER_HOST = "s3.sandbox-s3.svc"
IN_CLUSTER_NAMES = (IN_CLUSTER_HOST, f"{IN_CLUSTER_HOST}.cluster.local", "s3.sandbox-s3")
LISTEN = "127.0.0.1"
CA_NAME = "sandbox-s3-ca"
EXTERNAL, IN_CLUSTER = "external", "in-cluster"


@dataclass
class S3Server:
    """An S3 endpoint and the key pair to use with it; `process` is the moto server when we started it.

    `endpoint_url` is what clients are given (in-cluster: a name only pods resolve); `ca_bundle` the CA that
    signed its certificate (None: plain HTTP); `local_url` how the sandbox itself checks that it answers."""

    process: Process | None
    endpoint_url: str
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = SECRET_ACCESS_KEY
    region: str = REGION
    ca_bundle: Path | None = None
    reach: str = EXTERNAL
    local_url: str | None = None

    @property
    def in_cluster_url(self) -> str:
        """The Service-like name of the same endpoint, which only pods resolve."""
        return f"{self.scheme}://{IN_CLUSTER_HOST}:{self.local_url.rsplit(':', 1)[1]}" if self.local_url else ""

    @property
    def scheme(self) -> str:
        return "https" if self.ca_bundle else "http"

    @property
    def env(self) -> dict[str, str]:
        """Credentials (and the CA bundle) as the AWS SDKs (and barman-cloud) read them from the environment."""
        env = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
               "AWS_DEFAULT_REGION": self.region}
        if self.ca_bundle:
            env["AWS_CA_BUNDLE"] = str(self.ca_bundle)
        return env

    def info(self) -> dict[str, str | None]:
        return {"endpoint": self.endpoint_url, "access_key_id": self.access_key_id,
                "secret_access_key": self.secret_access_key, "region": self.region, "scheme": self.scheme,
                "reach": self.reach, "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
                "in_cluster_endpoint": self.in_cluster_url}

    def client(self):
        import boto3  # pylint: disable=import-outside-toplevel  # slow to import; the API server never needs it
        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key, region_name=self.region,
                            verify=str(self.ca_bundle) if self.ca_bundle else True)

    def create_bucket(self, prefix: str = "mlops") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        keys: list[str] = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the server answers; a moto server we started that exits fails at once."""
        deadline = time.monotonic() + timeout
        log = f"; see {self.process.log_file}" if self.process is not None else ""
        url = self.local_url or self.endpoint_url
        context = ssl.create_default_context(cafile=str(self.ca_bundle)) if self.ca_bundle else None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.poll()}{log}")
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1, context=context):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"{url} did not answer within {timeout:.0f}s{log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace=5)


def launch_s3_server(folder: Path, registry: Path, tls_dir: Path | None = None, reach: str = EXTERNAL) -> S3Server:
    """Start moto on a free port of 127.0.0.1 (log: `folder`/moto.log); it answers once `wait_ready()` returns.

    With `tls_dir`, it serves HTTPS with a certificate of the S3 CA written there (`ca.crt`, the bundle clients
    must trust, `s3.crt`, `s3.key`); `reach` IN_CLUSTER gives clients the in-cluster name instead of 127.0.0.1."""
    if reach not in (EXTERNAL, IN_CLUSTER):
        raise ValueError(f"S3 reach must be {EXTERNAL} or {IN_CLUSTER}, not {reach!r}")
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    command = [str(moto), "-H", LISTEN, "-p", str(port)]
    ca_bundle = None
    if tls_dir is not None:
        tls_dir.mkdir(parents=True, exist_ok=True)
        tls_dir.chmod(0o755)  # barman-cloud runs as postgres and reads the bundle
        ca_bundle, cert_file, key_file = pki.write_serving_files(tls_dir, "s3", "sandbox-s3",
                                                                 ("localhost", *IN_CLUSTER_NAMES), (LISTEN,),
                                                                 ca_name=CA_NAME)
        ca_bundle.chmod(0o644)
        command += ["--ssl-cert", str(cert_file), "--ssl-key", str(key_file)]
    scheme = "https" if ca_bundle else "http"
    # Path-style buckets only, as an S3-compatible store on a private name serves them (MinIO without
    # MINIO_DOMAIN): moto would otherwise take `s3` of `s3.sandbox-s3.svc` for a bucket name.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "S3_IGNORE_SUBDOMAIN_BUCKETNAME": "true"}
    process = Process("moto_server", command, env, folder / "moto.log", registry)
    local_url = f"{scheme}://{LISTEN}:{port}"
    endpoint = f"{scheme}://{IN_CLUSTER_HOST}:{port}" if reach == IN_CLUSTER else local_url
    return S3Server(process=process, endpoint_url=endpoint, ca_bundle=ca_bundle, reach=reach, local_url=local_url)


def start_s3_server(folder: Path, registry: Path, tls_dir: Path | None = None) -> S3Server:
    """A moto server that answers (stopped again when it does not)."""
    server = launch_s3_server(folder, registry, tls_dir)
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server
