"""The sandbox's own S3 API: a moto server on 127.0.0.1, started with the sandbox and stopped with it.

Any access key is accepted; `sandbox status` prints the endpoint and the keys the sandbox suggests. Nothing is
persisted across restarts (moto keeps buckets in memory).
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .processes import Process

ACCESS_KEY_ID = "sandbox-access-key"
SECRET_ACCESS_KEY = "sandbox-secret-key"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    def __init__(self, root: Path, registry: Path, port: int = 0):
        self.port = port or _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        moto = Path(sys.executable).parent / "moto_server"
        self.process = Process("moto_server", [str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
                               {"PATH": "/usr/bin:/bin", "HOME": str(root)}, root / "moto.log", registry)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.poll()}; see {self.process.log_file}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"moto_server did not answer within {timeout:.0f}s; see {self.process.log_file}")

    def info(self) -> dict[str, str]:
        return {"endpoint": self.endpoint_url, "access_key_id": ACCESS_KEY_ID,
                "secret_access_key": SECRET_ACCESS_KEY, "region": REGION}

    def stop(self) -> None:
        self.process.stop(grace=5)
