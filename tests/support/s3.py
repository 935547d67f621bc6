"""An S3 API on loopback: moto's server in its own process, with credentials and buckets."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests

from .net import free_port, wait_for
from .versions import REPO_ROOT

REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server. Any key pair is accepted; these are the ones the tests use."""

    process: subprocess.Popen
    endpoint_url: str
    access_key_id: str = "mlops-test-access-key"
    secret_access_key: str = "mlops-test-secret-key"
    region: str = REGION

    @property
    def env(self) -> dict[str, str]:
        """Credentials as the AWS SDKs (and barman-cloud) read them from the environment."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self):
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

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_s3_server(log_dir: Path, host: str = "127.0.0.1") -> S3Server:
    port = free_port(host)
    log = open(log_dir / "moto.log", "wb")  # pylint: disable=consider-using-with  # closed with the process
    moto = REPO_ROOT / ".venv" / "bin" / "moto_server"
    process = subprocess.Popen([str(moto), "-H", host, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    server = S3Server(process=process, endpoint_url=f"http://{host}:{port}")

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}; see {log_dir / 'moto.log'}")
        return requests.get(f"{server.endpoint_url}/moto-api/", timeout=2).status_code == 200

    try:
        wait_for(ready, 30, f"the S3 server on port {port}")
    except Exception:
        server.stop()
        raise
    return server
