"""How the tests run PostgreSQL's tools as the `postgres` user, and make folders it can use (the caches and venvs
are the sandbox's: sandbox/runtime/venvs.py)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"

# The PostgreSQL server binaries (initdb, pg_ctl, postgres) of the Debian package.
PG_BIN = Path(os.environ.get("MLOPS_PG_BIN", "/usr/lib/postgresql/15/bin"))


def postgres_ids() -> tuple[int, int]:
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def make_postgres_dir(path: Path, mode: int = 0o700) -> Path:
    """Create `path` owned by `postgres` (initdb, pg_ctl and restores refuse anything else)."""
    path.mkdir(parents=True, exist_ok=True)
    uid, gid = postgres_ids()
    os.chown(path, uid, gid)
    path.chmod(mode)
    return path


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def as_postgres(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run a command as the `postgres` user.

    Values in `env` (credentials among them) travel in the process environment, never on a command line
    that `ps` would show.
    """
    child_env = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
    child_env.update(env or {})
    command = [RUNUSER, "-u", "postgres", "--", "env", f"PATH={child_env['PATH']}", *args]
    kwargs.setdefault("check", True)
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(command, env=child_env, **kwargs)  # pylint: disable=subprocess-run-check
