"""A command run in a running container, as the kubelet's exec runs it (`kubectl exec`, kubernetes.core.k8s_exec).

It gets what the container's own process got: its environment (`env`/`envFrom` as resolved when the container
started, PATH with the image's venv first, HOSTNAME, the pod's resolver variables, so Service names resolve), its
working directory, and mount paths in its arguments mapped to the pod's folders (podspec.py). In a CNPG instance's
`postgres` container it runs as the `postgres` user with CNPG's environment mapped to the instance's folders
(PGHOST is the socket folder), so `psql` is the superuser over the socket, as with `kubectl cnpg psql`.

A container that does not run has nothing to exec in: the kubelet's `container not found ("<name>")`. A program
that is not there fails as runc fails it (`exec: "x": executable file not found in $PATH`), before anything runs.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import struct
import subprocess
import termios
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .pod import BASE_PATH
from .podspec import container_env, map_paths
from .postgres import CNPG_PGDATA, PG_BIN
from .processes import as_user


class NotRunning(Exception):
    """The container does not run (kubelet GetExec: `container not found ("<name>")`)."""

    def __init__(self, container: str):
        super().__init__(f'container not found ("{container}")')


class StartError(Exception):
    """The runtime could not start the command (containerd + runc's message)."""

    def __init__(self, reason: str):
        exec_id = secrets.token_hex(32)
        super().__init__(f'failed to exec in container: failed to start exec "{exec_id}": OCI runtime exec failed: '
                         f"exec failed: unable to start container process: {reason}: unknown")


@dataclass
class Target:
    """Where a command runs: the container's environment, working directory, mounts and user; `running` says
    whether the container still runs (a command in it ends with it)."""

    env: dict[str, str]
    cwd: Path
    running: Callable[[], bool]
    mounts: dict[str, Path] = field(default_factory=dict)
    user: str | None = None


def target(runtime: Any, pod: dict[str, Any], container: str) -> Target:
    """The running `container` of `pod`, or NotRunning."""
    if runtime is None:  # the stand-in controllers run no container
        raise NotRunning(container)
    meta = pod["metadata"]
    key = (meta["namespace"], meta["name"])
    runner = runtime.pods.get(key)
    if runner is not None and runner.uid == meta["uid"]:
        if runner.container.get("name") != container or not runner.running():
            raise NotRunning(container)
        return Target(dict(runner.env), runner.working_dir(),
                      lambda: runtime.pods.get(key) is runner and runner.running(), dict(runner.mounts))
    manager = runtime.clusters.get((meta["namespace"], (meta.get("labels") or {}).get("cnpg.io/cluster", "")))
    if manager is not None and (meta.get("labels") or {}).get("cnpg.io/jobRole") == "full-recovery":
        return _recovery_target(runtime, pod, container, manager)
    member = manager.member(meta["name"]) if manager is not None else None  # the CNPG instance in this pod

    def running() -> bool:
        return member.pod_uid in (None, meta["uid"]) and member.instance.is_running()
    if member is None or container != "postgres" or not running():
        raise NotRunning(container)
    return _instance_target(runtime, pod, member.instance, running)


def _recovery_target(runtime: Any, pod: dict[str, Any], container: str, manager: Any) -> Target:
    """The `full-recovery` container of CNPG's restore Job, while its restore runs: PGDATA is the instance's folder
    being restored (cnpg_recovery_job.py)."""
    job = manager.restoring
    meta = pod["metadata"]
    if container != "full-recovery" or job is None or job.pod_uid != meta["uid"]:
        raise NotRunning(container)
    instance = manager.instance
    env = {"PATH": f"{PG_BIN}:{BASE_PATH}", "HOSTNAME": meta["name"], "LANG": "C.UTF-8", "PGDATA": CNPG_PGDATA,
           "HOME": str(instance.root / "tmp")}
    env.update(runtime.network.resolver_env(meta["namespace"]))
    return Target(env, instance.root, lambda: manager.restoring is job, {CNPG_PGDATA: instance.data_dir}, "postgres")


def _instance_target(runtime: Any, pod: dict[str, Any], instance: Any, running: Callable[[], bool]) -> Target:
    """CNPG's `postgres` container: its env (cnpg_cluster.instance_env) with CNPG's paths as the instance's folders."""
    spec = next(c for c in pod["spec"]["containers"] if c["name"] == "postgres")
    paths = instance.container_paths()
    meta = pod["metadata"]
    env = {"PATH": f"{PG_BIN}:{BASE_PATH}", "HOSTNAME": meta["name"], "LANG": "C.UTF-8",
           "HOME": str(instance.root / "tmp")}
    env.update(runtime.network.resolver_env(meta["namespace"]))
    # Plain values only (no Secret or ConfigMap to read): CNPG's env is written out in the Pod.
    env.update({key: map_paths(value, paths)
                for key, value in container_env(None, pod, spec, instance.address).items()})
    return Target(env, instance.root, running, paths, "postgres")


def _look_path(program: str, target_: Target) -> str:
    """Go's exec.LookPath in the container's PATH (what runc does before it execs)."""
    if "/" in program:
        path = Path(program) if program.startswith("/") else target_.cwd / program
        if not path.exists():
            raise StartError(f'exec: "{program}": stat {program}: no such file or directory')
        return str(path)
    for folder in target_.env.get("PATH", "").split(":"):
        candidate = Path(folder or ".") / program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise StartError(f'exec: "{program}": executable file not found in $PATH')


class Session:
    """One command started in a container: write its stdin, read its output (`outputs`: channel -> fd).

    `options`: the exec's `command` and which of `stdin`, `stdout`, `stderr`, `tty` it asked for."""

    def __init__(self, target_: Target, options: dict[str, Any]):
        command, tty = options["command"], options["tty"]
        if not command:
            raise StartError('exec: "": executable file not found in $PATH')
        argv = [map_paths(part, target_.mounts) for part in command]
        program = _look_path(argv[0], target_)  # argv[0] stays as given, as runc execs it
        self.tty = tty
        self._terminal: int | None = None
        if tty:  # stdout and stderr are the terminal (kubelet drops stderr with a tty)
            self._terminal, secondary = os.openpty()
            streams: dict[str, Any] = {"stdin": secondary, "stdout": secondary, "stderr": secondary}
        else:
            sink = subprocess.DEVNULL
            streams = {name: subprocess.PIPE if options[name] else sink for name in ("stdin", "stdout", "stderr")}
        try:
            # Waited for (and its pipes closed) in close(), after the session.
            # As another user, setpriv looks the program up in the same PATH.
            self.popen = subprocess.Popen(  # pylint: disable=consider-using-with
                as_user(target_.user, argv), executable=None if target_.user else program, env=target_.env,
                cwd=target_.cwd, start_new_session=True, **streams)
        except OSError as exc:
            raise StartError(f'exec: "{command[0]}": {exc.strerror.lower()}') from exc
        finally:
            if tty:
                os.close(secondary)
        if tty:
            self.outputs = {1: self._terminal}
        else:
            pipes = ((1, self.popen.stdout), (2, self.popen.stderr))
            self.outputs = {channel: pipe.fileno() for channel, pipe in pipes if pipe is not None}

    def write_stdin(self, data: bytes) -> None:
        """Input for the command (dropped once it stopped reading)."""
        try:
            if self._terminal is not None:
                os.write(self._terminal, data)
            elif self.popen.stdin is not None:
                self.popen.stdin.write(data)
                self.popen.stdin.flush()
        except OSError:
            pass  # the command no longer reads its input

    def close_stdin(self) -> None:
        """The end of the command's input."""
        if self._terminal is not None:
            self.write_stdin(b"\x04")  # end of input on a terminal
        elif self.popen.stdin is not None:
            try:
                self.popen.stdin.close()
            except OSError:
                pass

    def resize(self, width: int, height: int) -> None:
        """The terminal's new size (kubectl sends it on the resize channel)."""
        if self._terminal is not None:
            fcntl.ioctl(self._terminal, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (None if still running after `timeout`); killed by a signal: 128 + the signal, as runc
        reports it."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return 128 - code if code < 0 else code

    def kill(self) -> None:
        """The command and whatever it started (its own session)."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """Kill what is left and release the pipes (or terminal), once nothing reads them any more."""
        self.kill()
        self.popen.wait()
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        if self._terminal is not None:
            os.close(self._terminal)
            self._terminal = None
