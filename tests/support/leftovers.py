"""Find processes a test run left behind: anything whose command line or working folder is under a path."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def processes_under(path: Path) -> list[tuple[int, str]]:
    """(pid, command line) of live processes that name `path` in their arguments or run inside it."""
    marker = str(path)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(entry / "cwd")
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        if marker in cmdline or cwd.startswith(marker):
            found.append((int(entry.name), cmdline))
    return found


def kill_all(processes: list[tuple[int, str]]) -> None:
    for pid, _cmdline in processes:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
