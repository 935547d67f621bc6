"""Real processes the sandbox starts: each in its own process group, logged to a file, recorded on disk.

The record (`<state>/runtime/processes/<pid>`) lets `python -m sandbox down` stop whatever a crashed server left
behind; a clean shutdown stops every process itself and removes the records.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

LOG = logging.getLogger(__name__)

SETPRIV = "/usr/bin/setpriv"
LIVE: set[Process] = set()  # started and not yet stopped, for the runtime's shutdown
_LIVE_LOCK = threading.Lock()


def as_user(user: str | None, command: list[str]) -> list[str]:
    """`command` run as `user` (e.g. postgres) without an intermediate process: setpriv execs it."""
    if not user:
        return command
    return [SETPRIV, f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *command]


class Process:
    """One started process group."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_file: Path, registry: Path,
                 cwd: Path | None = None, user: str | None = None):
        self.name = name
        self.log_file = log_file
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as log:
            self.popen = subprocess.Popen(as_user(user, command), env=env, stdout=log, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                          stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
        self.started = time.time()
        self._record = registry / str(self.popen.pid)
        registry.mkdir(parents=True, exist_ok=True)
        self._record.write_text(f"{self.popen.pid}\n{name}\n", encoding="utf-8")
        self._lock = threading.Lock()
        with _LIVE_LOCK:
            LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        """The leader's exit code (None while it runs); the record stays until stop() cleared the whole group."""
        return self.popen.poll()

    def stop(self, grace: float = 10.0, first_signal: int = signal.SIGTERM, leader_only: bool = False) -> int | None:
        """Signal the group (or only its leader, e.g. a postmaster), wait `grace` seconds, then kill what is left."""
        with self._lock:
            if self.popen.poll() is None:
                if leader_only:
                    try:
                        os.kill(self.pid, first_signal)
                    except ProcessLookupError:
                        pass
                else:
                    _signal_group(self.pid, first_signal)
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    LOG.warning("%s did not stop within %.0fs; killing it", self.name, grace)
            # Children that outlive the leader (workers) still carry its process group id.
            _signal_group(self.pid, signal.SIGKILL)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                LOG.error("%s (pid %d) survived SIGKILL", self.name, self.pid)
            self._record.unlink(missing_ok=True)
            with _LIVE_LOCK:
                LIVE.discard(self)
            return self.popen.returncode


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(grace: float = 30.0) -> None:
    """Stop every live process in parallel (a stop already under way is waited for, through its lock)."""
    with _LIVE_LOCK:
        live = list(LIVE)
    threads = [threading.Thread(target=p.stop, kwargs={"grace": grace}, daemon=True) for p in live]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=grace + 15)


def kill_under(root: Path) -> list[str]:
    """Kill processes working inside `root`: what outlives its process group (PostgreSQL's backends and archiver
    run in sessions of their own) after the group is gone."""
    killed = []
    marker = str(root)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd == marker or cwd.startswith(marker + "/"):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(entry.name)
            except ProcessLookupError:
                pass
    return killed


def kill_recorded(registry: Path) -> list[str]:
    """Kill the process groups recorded in `registry` (left by a server that did not stop cleanly)."""
    killed = []
    if not registry.is_dir():
        return killed
    for record in registry.iterdir():
        try:
            pid = int(record.name)
            name = record.read_text(encoding="utf-8").splitlines()[1]
        except (ValueError, IndexError, OSError):
            record.unlink(missing_ok=True)
            continue
        # The group can outlive its leader (a postmaster's archiver, uvicorn workers): signal the group itself.
        try:
            os.killpg(pid, signal.SIGKILL)
            killed.append(f"{pid} ({name})")
        except (ProcessLookupError, PermissionError):
            pass
        record.unlink(missing_ok=True)
    return killed
