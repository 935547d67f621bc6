"""Fault hooks for the e2e tests: a TCP gate that can refuse connections, PostgreSQL stops, playbooks run in the
background and killed, all against the sandbox's real processes.

The sandbox itself is left as it is: a gate sits between a client and a real server (the API server, the S3
server), so closing it is what an operator sees when that server is unreachable (connection refused, open
connections reset), while the server and everything behind it keeps running.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from sandbox.runtime.proxy import copy_stream
from tests.e2e.sandbox_flows import INVENTORY, Sandbox
from tests.sandbox.runtime_stack import Stack
from tests.support.ansible_run import (ANSIBLE_PLAYBOOK, PlaybookRun, ansible_env, module_interpreter,
                                       run_playbook)
from tests.support.versions import REPO_ROOT


class TcpGate:
    """A TCP forwarder on 127.0.0.1 to `target`. `close()` resets the open connections and every new one (the
    server looks gone from the client's side: "connection reset by peer"); `open()` forwards again. `hold()` accepts
    new connections and forwards nothing on them until `release()` (a server that stalls: the client waits).

    The listening socket stays: closing and re-binding it can leave a connection in the old accept queue that
    nobody answers, which is a hung server rather than an unreachable one."""

    def __init__(self, target_host: str, target_port: int, scheme: str = "http"):
        self.target = (target_host, target_port)
        self.scheme = scheme  # what the clients speak through it (TLS passes through untouched)
        self._closed = threading.Event()
        self._released = threading.Event()
        self._released.set()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def to_url(cls, url: str) -> TcpGate:
        parts = urlsplit(url)
        scheme = parts.scheme or "http"
        return cls(parts.hostname or "127.0.0.1", parts.port or (443 if scheme == "https" else 80), scheme)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def open(self) -> None:
        self._closed.clear()

    def close(self) -> None:
        """Reset the open connections and refuse new ones."""
        self._closed.set()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            _reset(connection)

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def shutdown(self) -> None:
        self.release()
        self.close()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of its thread
        except OSError:
            pass
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            if self._closed.is_set():
                _reset(client)
                continue
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        self._released.wait()
        if self._closed.is_set():
            _reset(client)
            return
        try:
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._connections |= {client, upstream}
        if self._closed.is_set():  # closed while this one was being connected
            _reset(client)
            _reset(upstream)
            return
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        copy_stream(source, sink)
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._lock:
            self._connections -= {source, sink}


def _reset(connection: socket.socket) -> None:
    """Drop a connection, as a server that went away does. shutdown() first: a pipe thread blocked in recv() on
    it would otherwise keep the connection open in the kernel after close(), answering nothing."""
    for step in (lambda: connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
                 lambda: connection.shutdown(socket.SHUT_RDWR), connection.close):
        try:
            step()
        except OSError:
            pass


def gated_kubeconfig(sandbox: Sandbox, gate: TcpGate, folder: Path) -> Path:
    """A copy of the sandbox's kubeconfig that reaches the API server through `gate`."""
    config = yaml.safe_load(sandbox.cluster.kubeconfig.read_text(encoding="utf-8"))
    for entry in config["clusters"]:
        entry["cluster"]["server"] = gate.url
    path = folder / "kubeconfig-gated"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# --- playbooks -------------------------------------------------------------------------------------------------

def playbook_command(sandbox: Sandbox, namespace: str, values: dict[str, Any],
                     extra_vars: dict[str, Any] | None = None) -> list[str]:
    variables = {"mlflow_namespace": namespace, "mlflow_url": sandbox.url(namespace), "mlflow_values": values,
                 **(extra_vars or {})}
    return ["-i", str(INVENTORY / "hosts.yml"), "-e", json.dumps(variables)]


def run(sandbox: Sandbox, name: str, namespace: str, values: dict[str, Any], extra_vars: dict[str, Any] | None = None,
        env: dict[str, str] | None = None) -> PlaybookRun:
    """A playbook with explicit chart values (and environment, e.g. a gated kubeconfig)."""
    return run_playbook(REPO_ROOT / "playbooks" / f"{name}.yml",
                        *playbook_command(sandbox, namespace, values, extra_vars),
                        env=dict(sandbox.env(), **(env or {})), timeout=2400)


def start_killable(sandbox: Sandbox, name: str, namespace: str, values: dict[str, Any],
                   extra_vars: dict[str, Any] | None = None) -> subprocess.Popen:
    """A playbook in its own process group, so that it can be killed with the modules it runs."""
    command = [str(ANSIBLE_PLAYBOOK), *module_interpreter(),
               *playbook_command(sandbox, namespace, values, extra_vars),
               str(REPO_ROOT / "playbooks" / f"{name}.yml")]
    # pylint: disable-next=consider-using-with
    return subprocess.Popen(command, cwd=REPO_ROOT, env=ansible_env(sandbox.env()), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the playbook and every process it started (its modules, helm)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_while_running(process: Callable[[], bool], condition: Callable[[], Any], timeout: float,
                       what: str, interval: float = 1.0) -> Any:
    """Poll `condition` while `process()` says the playbook still runs; fail if it ended or time ran out first.

    Each poll runs clients (kubectl, the helm double: a Python process each) that take CPU from the scenarios
    running beside this one; poll faster (`interval`) only to catch a short window."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if not process():
            raise AssertionError(f"the playbook ended before {what}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- the cluster as the tests look at it ------------------------------------------------------------------------

def migrate_jobs(sandbox: Sandbox, namespace: str, action: str = "run") -> list[dict[str, Any]]:
    """The mlflow_migrate Jobs of the namespace that run `action` (plan: read-only; run: the migration)."""
    jobs = sandbox.cluster.get("jobs", "-n", namespace, "-l", "app.kubernetes.io/name=mlflow-migrate")["items"]
    return [job for job in jobs if job["spec"]["template"]["spec"]["containers"][0]["command"][-1] == action]


def postmaster_pid(sandbox: Sandbox, namespace: str, cluster: str) -> int | None:
    """The pid of the cluster's running postmaster, from its data folder's postmaster.pid."""
    data = sandbox.cluster.state_dir / "runtime" / "postgres" / namespace / f"{cluster}-1" / "data"
    pid_file = data / "postmaster.pid"
    try:
        pid = int(pid_file.read_text(encoding="utf-8").splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def stop_postgres(sandbox: Sandbox, namespace: str, cluster: str) -> int:
    """A fast shutdown of the cluster's PostgreSQL (SIGINT to the postmaster, as `pg_ctl stop -m fast`): every
    session is terminated, open transactions roll back. Returns the pid that was stopped."""
    pid = postmaster_pid(sandbox, namespace, cluster)
    assert pid is not None, f"no running postmaster for {namespace}/{cluster}"
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        time.sleep(0.1)
    raise AssertionError(f"postgres {pid} did not stop")


def superuser(sandbox: Sandbox, namespace: str, cluster: str, query: str, dbname: str = "mlflow") -> list[tuple]:
    return Stack(sandbox.cluster, namespace).superuser_sql(cluster, query, dbname=dbname)


def tracking_revision(sandbox: Sandbox, namespace: str, cluster: str) -> str:
    return superuser(sandbox, namespace, cluster, "SELECT version_num FROM alembic_version")[0][0]
