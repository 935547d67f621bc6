"""What runs behind the sandbox's API objects: processes, loopback addresses and names, proxies and S3.

The one home of the real-process helpers: the tests' fixtures and the benchmarks start their PostgreSQL, moto S3
and barman-cloud through the same modules as the sandbox (postgres.py, s3.py, barman.py) and take their MLflow
venvs from venvs.py.

One `Runtime` per API server process (`Runtime.current()`), created before the controllers start and stopped
after them. Its folder (`<state>/runtime/`) must be traversable by the `postgres` user.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from .network import Network
from .processes import kill_recorded, kill_under, stop_all
from .proxy import Proxies
from .s3 import EXTERNAL, IN_CLUSTER_NAMES, LISTEN, launch_s3_server

LOG = logging.getLogger(__name__)


def archive_timeout() -> int:
    """archive_timeout of a Cluster that sets none: CNPG's default, 5 min (pkg/postgres/configuration.go,
    "archive_timeout": "5min"). A Cluster shortens it as on a real cluster, in spec.postgresql.parameters;
    SANDBOX_ARCHIVE_TIMEOUT stands for an operator built with another default."""
    return int(os.environ.get("SANDBOX_ARCHIVE_TIMEOUT", "300"))


class Runtime:
    _current: Runtime | None = None

    def __init__(self, state_dir: Path, with_s3: bool = True, s3_tls: bool = True, s3_reach: str = EXTERNAL):
        """`s3_tls`: the S3 serves HTTPS (CA bundle in `<state>/s3-tls/ca.crt`), else plain HTTP; `s3_reach`:
        EXTERNAL (the control node can use its endpoint) or IN_CLUSTER (a name only pods resolve)."""
        self.root = state_dir / "runtime"
        self.registry = self.root / "processes"
        leftovers = kill_recorded(self.registry) + kill_under(self.root)
        if leftovers:
            LOG.warning("killed processes an earlier sandbox left running: %s", ", ".join(leftovers))
        for stale in ("pods", "postgres", "builds", "barman-certificates"):
            shutil.rmtree(self.root / stale, ignore_errors=True)
        for folder in (state_dir, self.root):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)  # postgres must traverse to its data folders
        self.pods_dir = self.root / "pods"
        self.postgres_dir = self.root / "postgres"
        self.pods_dir.mkdir(mode=0o711, exist_ok=True)
        self.postgres_dir.mkdir(mode=0o755, exist_ok=True)
        self.network = Network(self.root / "dns")
        self.proxies = Proxies()
        self._remove_sockets()
        self.s3 = launch_s3_server(self.root, self.registry, state_dir / "s3-tls" if s3_tls else None,
                                   s3_reach) if with_s3 else None
        if self.s3 is not None:  # the store's Service name, resolved by pods only (runtime/s3.py)
            self.network.set_cluster_names(LISTEN, IN_CLUSTER_NAMES)
        self.clusters: dict = {}  # (namespace, name) -> the instance manager of a CNPG Cluster
        self.pods: dict = {}  # (namespace, name) -> the PodRunner of a Pod the kubelet runs (pods/exec finds it)

    @classmethod
    def current(cls) -> Runtime:
        if cls._current is None:
            raise RuntimeError("the sandbox runtime is not started")
        return cls._current

    def start(self) -> Runtime:
        if self.s3 is not None:
            self.s3.wait_ready()
        Runtime._current = self
        return self

    def pod_log_dir(self, namespace: str, pod: str) -> Path:
        return self.pods_dir / namespace / pod / "logs"

    def barman_certificate_file(self, namespace: str, object_store: str) -> Path:
        """Where an ObjectStore's endpointCA is materialised for barman-cloud: the plugin projects the Secret's key
        to /barman-certificates/<objectstore>/barman-ca.crt in the sidecar (operator/lifecycle_certificates.go)."""
        return self.root / "barman-certificates" / namespace / object_store / "barman-ca.crt"

    def build_log_file(self, namespace: str, build: str) -> Path:
        """A Build's log, where OpenShift keeps it: container `docker-build` of the build pod `<build>-build`."""
        return self.pod_log_dir(namespace, f"{build}-build") / "docker-build.log"

    def info(self) -> dict:
        return {"s3": self.s3.info() if self.s3 else None,
                "loopback_network": f"127.{self.network.octet}.0.0/16",
                "service_address": f"cluster IP 10.96.A.B -> 127.{self.network.octet}.A.B",
                "resolver_env": self.network.resolver_env(),
                "hosts_file": str(self.network.hosts_file)}

    def stop(self) -> None:
        """Stop every process the sandbox started: gracefully (PostgreSQL fast shutdown), then by force."""
        self.proxies.close_all()
        stop_all()
        if self.s3 is not None:
            self.s3.stop()
        leftovers = kill_recorded(self.registry) + kill_under(self.root)
        if leftovers:
            LOG.warning("killed processes still running at shutdown: %s", ", ".join(leftovers))
        self._remove_sockets()
        self.network.release()
        Runtime._current = None

    def _remove_sockets(self) -> None:
        """The PostgreSQL socket folders of this sandbox's loopback network (they live outside the state folder)."""
        from .postgres import SOCKET_ROOT  # pylint: disable=import-outside-toplevel
        if SOCKET_ROOT.is_dir():
            for folder in SOCKET_ROOT.glob(f"127.{self.network.octet}.*"):
                shutil.rmtree(folder, ignore_errors=True)
