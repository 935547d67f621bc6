"""Loopback addresses and names: what lets URIs in Secrets and basic-auth.ini be used exactly as written.

- each running sandbox claims one /16 of loopback, 127.K.0.0/16 (K from 16 to 250, held with a lock file in
  /tmp/sandbox-loopback/ for the server's lifetime, so that sandboxes side by side never collide); Linux routes
  all of 127.0.0.0/8 to loopback, so processes bind these addresses without any setup;
- every Service gets 127.K.A.B for its cluster IP 10.96.A.B (A < 64), every Pod one from 127.K.64.0/18 and
  every Route one from 127.K.192.0/18;
- names resolve through hosts files read by libnss_wrapper (LD_PRELOAD + NSS_WRAPPER_HOSTS): `hosts` has the
  Route hosts only, for the control node (a workstation outside the cluster resolves no `*.svc` name);
  `hosts.d/<ns>` is a pod's view of the cluster DNS: the qualified Service names (`<svc>.<ns>`, `<svc>.<ns>.svc`,
  `<svc>.<ns>.svc.cluster.local`), the short names of its namespace (its DNS search path), the in-cluster names
  of what runs beside the cluster's Services (the in-cluster S3, `set_cluster_names`) and the Route hosts.
  Names not in the file fall through to the normal resolver;
- `free_port()` finds a port for a server started next on 127.0.0.1 (moto, a test's PostgreSQL or MLflow).
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import threading
from pathlib import Path

NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"
LOCK_DIR = Path("/tmp/sandbox-loopback")
_OCTETS = range(16, 251)


def claim_octet() -> tuple[int, int]:
    """(K, open lock fd): the first 127.K.0.0/16 no other running sandbox holds."""
    LOCK_DIR.mkdir(mode=0o1777, exist_ok=True)
    for octet in _OCTETS:
        fd = os.open(LOCK_DIR / f"{octet}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return octet, fd
    raise RuntimeError("every loopback /16 for sandboxes is taken (too many sandboxes running)")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (for a server started next: moto, a test's PostgreSQL or MLflow)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Network:
    def __init__(self, root: Path):
        self.octet, self._lock_fd = claim_octet()
        self.root = root
        self.hosts_file = root / "hosts"
        self.namespace_dir = root / "hosts.d"
        self.namespace_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One writer at a time, snapshot to rename: two controllers' writes interleaved could leave the older
        # snapshot on disk last (a Route's host lost until the next change) and share the temporary file.
        self._write_lock = threading.Lock()
        self._pods: dict[str, str] = {}      # pod uid -> address
        self._routes: dict[str, str] = {}    # route uid -> address
        self._services: dict[tuple[str, str], str] = {}  # (namespace, name) -> address
        self._route_hosts: dict[tuple[str, str], tuple[str, str]] = {}  # (ns, route) -> (host, address)
        self._cluster_names: list[str] = []  # "<address> <name> ...": names only the cluster DNS answers
        self._write()

    def _allocate(self, table: dict[str, str], network: ipaddress.IPv4Network, uid: str) -> str:
        with self._lock:
            if uid in table:
                return table[uid]
            used = set(table.values())
            for offset in range(2, network.num_addresses - 1):
                candidate = str(network[offset])
                if candidate not in used:
                    table[uid] = candidate
                    return candidate
        raise RuntimeError(f"no loopback address left in {network}")

    def service_address(self, cluster_ip: str) -> str:
        """127.K.A.B for the cluster IP 10.96.A.B (a Service keeps its address for its lifetime)."""
        parts = cluster_ip.split(".")
        return f"127.{self.octet}.{int(parts[2]) % 64}.{parts[3]}"

    def pod_address(self, uid: str) -> str:
        return self._allocate(self._pods, ipaddress.ip_network(f"127.{self.octet}.64.0/18"), uid)

    def release_pod(self, uid: str) -> None:
        with self._lock:
            self._pods.pop(uid, None)

    def route_address(self, uid: str) -> str:
        return self._allocate(self._routes, ipaddress.ip_network(f"127.{self.octet}.192.0/18"), uid)

    def release_route(self, uid: str) -> None:
        with self._lock:
            self._routes.pop(uid, None)

    def set_service(self, namespace: str, name: str, address: str | None) -> None:
        with self._lock:
            if address is None:
                changed = self._services.pop((namespace, name), None) is not None
            else:
                changed = self._services.get((namespace, name)) != address
                self._services[(namespace, name)] = address
        if changed:
            self._write()

    def set_route_host(self, namespace: str, name: str, host: str | None, address: str | None) -> None:
        with self._lock:
            if host is None:
                changed = self._route_hosts.pop((namespace, name), None) is not None
            else:
                changed = self._route_hosts.get((namespace, name)) != (host, address)
                self._route_hosts[(namespace, name)] = (host, address or "")
        if changed:
            self._write()

    def set_cluster_names(self, address: str, names: tuple[str, ...]) -> None:
        """Names that resolve to `address` in every pod and never on the control node (an in-cluster service)."""
        with self._lock:
            self._cluster_names.append(" ".join((address, *names)))
        self._write()

    def namespace_hosts(self, namespace: str) -> Path:
        path = self.namespace_dir / namespace
        if not path.exists():
            # A namespace without Services still has a DNS (nss_wrapper logs an error for a missing file).
            with self._write_lock:
                _atomic(path, "")
                self._write_files()
        return path

    def _write(self) -> None:
        with self._write_lock:
            self._write_files()

    def _write_files(self) -> None:
        with self._lock:
            services = dict(self._services)
            routes = list(self._route_hosts.values())
            cluster_names = list(self._cluster_names)
        outside = ["127.0.0.1 localhost", "::1 localhost ip6-localhost"]
        outside += [f"{address} {host}" for host, address in sorted(routes) if host and address]
        # The control node is a workstation outside the cluster: only Route hosts (public DNS) resolve there.
        _atomic(self.hosts_file, "\n".join(outside) + "\n")
        # Pods ask the cluster DNS: every Service by its qualified names, their namespace's by the short name too.
        qualified = [f"{address} {name}.{namespace}.svc.cluster.local {name}.{namespace}.svc {name}.{namespace}"
                     for (namespace, name), address in sorted(services.items())] + cluster_names
        namespaces = {ns for ns, _ in services} | {p.name for p in self.namespace_dir.iterdir()}
        for namespace in namespaces:
            short = [f"{address} {name}" for (ns, name), address in sorted(services.items()) if ns == namespace]
            _atomic(self.namespace_dir / namespace, "\n".join(short + qualified + outside) + "\n")

    def forget_namespace(self, namespace: str) -> None:
        (self.namespace_dir / namespace).unlink(missing_ok=True)

    def release(self) -> None:
        os.close(self._lock_fd)

    def resolver_env(self, namespace: str | None = None) -> dict[str, str]:
        """The variables that make a process resolve the sandbox's names (a pod's, or the control node's)."""
        hosts = self.namespace_hosts(namespace) if namespace else self.hosts_file
        return {"LD_PRELOAD": NSS_WRAPPER, "NSS_WRAPPER_HOSTS": str(hosts)}


def _atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o644)
    os.replace(temporary, path)
