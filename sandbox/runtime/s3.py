"""An S3 API on loopback: a moto server, started with the sandbox (or a test session) and stopped with it.

Any access key is accepted; `sandbox status` prints the endpoint and the keys the sandbox suggests. Nothing is
persisted across restarts (moto keeps buckets in memory).
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from .network import free_port
from .processes import Process

ACCESS_KEY_ID = "sandbox-access-key"
SECRET_ACCESS_KEY = "sandbox-secret-key"
REGION = "us-east-1"


@dataclass
class S3Server:
    """An S3 endpoint and the key pair to use with it; `process` is the moto server when we started it."""

    process: Process | None
    endpoint_url: str
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = SECRET_ACCESS_KEY
    region: str = REGION

    @property
    def env(self) -> dict[str, str]:
        """Credentials as the AWS SDKs (and barman-cloud) read them from the environment."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_DEFAULT_REGION": self.region}

    def info(self) -> dict[str, str]:
        return {"endpoint": self.endpoint_url, "access_key_id": self.access_key_id,
                "secret_access_key": self.secret_access_key, "region": self.region}

    def client(self):
        import boto3  # pylint: disable=import-outside-toplevel  # slow to import; the API server never needs it
        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key, region_name=self.region)

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
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.poll()}{log}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"{self.endpoint_url} did not answer within {timeout:.0f}s{log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace=5)


def launch_s3_server(folder: Path, registry: Path) -> S3Server:
    """Start moto on a free port of 127.0.0.1 (log: `folder`/moto.log); it answers once `wait_ready()` returns."""
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    process = Process("moto_server", [str(moto), "-H", "127.0.0.1", "-p", str(port)],
                      {"PATH": "/usr/bin:/bin", "HOME": str(folder)}, folder / "moto.log", registry)
    return S3Server(process=process, endpoint_url=f"http://127.0.0.1:{port}")


def start_s3_server(folder: Path, registry: Path) -> S3Server:
    """A moto server that answers (stopped again when it does not)."""
    server = launch_s3_server(folder, registry)
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server
