"""Where the sandbox's programs come from: the cached virtual environments that stand for container images.

- MLflow, one venv per version, built with uv and cached under .cache/mlflow-venvs: the same package set as the
  chart's BuildConfig installs on top of the official image (``mlflow[auth]==<ver>``, PostgreSQL drivers, boto3);
- barman-cloud, the venv `make setup` installs (the Barman Cloud Plugin's sidecar runs the same tools).

The tests, the benchmarks and `make setup` take the venvs from here too (``python -m sandbox.runtime.venvs
VERSION...`` builds them).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..paths import REPO_ROOT

CACHE_DIR = Path(os.environ.get("MLOPS_CACHE_DIR", REPO_ROOT / ".cache"))
MLFLOW_VENVS_DIR = CACHE_DIR / "mlflow-venvs"
BARMAN_VENV = Path(os.environ.get("MLOPS_BARMAN_VENV", CACHE_DIR / "barman"))
UV_CACHE_DIR = CACHE_DIR / "uv"

# The interpreter the official image has (python:3.11-slim). Debian's, so that any user can run the venv.
BASE_PYTHON = "/usr/bin/python3"


# The first pinned MLflow release seen working with SQLAlchemy 2.1 (3.4.0 and 3.5.0 fail to import).
SQLALCHEMY_2_1_FROM = (3, 17)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


def requirements_for(version: str) -> list[str]:
    """The pip requirements of an MLflow server image of `version`."""
    packages = [f"mlflow[auth]=={version}", "psycopg2-binary", "psycopg[binary]", "boto3"]
    if _version_tuple(version) < SQLALCHEMY_2_1_FROM:
        # Older MLflow imports a pool class that SQLAlchemy 2.1 removed; the official images of those
        # versions were built before 2.1 existed.
        packages.append("sqlalchemy<2.1")
    return packages


def venv_path(version: str) -> Path:
    return MLFLOW_VENVS_DIR / version


def ensure_mlflow_venv(version: str) -> Path:
    """Return the venv of MLflow `version`, building it once (safe across concurrent callers)."""
    target = venv_path(version)
    marker = target / ".complete"
    if marker.exists():
        return target
    MLFLOW_VENVS_DIR.mkdir(parents=True, exist_ok=True)
    with open(MLFLOW_VENVS_DIR / f".{version}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return target
        env = {**os.environ, "UV_CACHE_DIR": str(UV_CACHE_DIR)}
        uv = uv_executable()
        subprocess.run([uv, "venv", "--quiet", "--clear", "--python", BASE_PYTHON, str(target)],
                       check=True, env=env, capture_output=True, text=True)
        result = subprocess.run(
            [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(target / "bin" / "python"),
             *requirements_for(version)],
            env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            # No half-built venv left behind for the next caller to trip over.
            shutil.rmtree(target, ignore_errors=True)
            raise RuntimeError(f"could not build the MLflow {version} venv:\n{result.stderr[-4000:]}")
        marker.write_text(version, encoding="utf-8")
    return target


def uv_executable() -> str:
    """uv from the project venv (installed by `make setup`), else from PATH."""
    candidate = REPO_ROOT / ".venv" / "bin" / "uv"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("uv")
    if not found:
        raise RuntimeError("uv is not installed: run `make setup`")
    return found


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m sandbox.runtime.venvs MLFLOW_VERSION...", file=sys.stderr)
        return 2
    for version in argv:
        print(f"MLflow {version}: {ensure_mlflow_venv(version)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
