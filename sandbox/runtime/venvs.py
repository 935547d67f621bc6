"""Where the sandbox's programs come from: the cached virtual environments that stand for container images.

- MLflow, one venv per version, built with uv and cached under .cache/mlflow-venvs: the same package set as the
  chart's BuildConfig installs on top of the official image. A supported version has a pinned set, committed in the
  chart (charts/mlflow/files/requirements/mlflow-<ver>.txt, `make requirements` regenerates it from
  `requirements_for`), installed exactly (``--no-deps``); any other version gets ``requirements_for`` resolved
  (``mlflow[auth]==<ver>``, PostgreSQL drivers, boto3), as the chart's unpinned Dockerfile does;
- barman-cloud, the venv `make setup` installs (the Barman Cloud Plugin's sidecar runs the same tools).

The tests, the benchmarks and `make setup` take the venvs from here too (``python -m sandbox.runtime.venvs
VERSION...`` builds them).
"""

from __future__ import annotations

import fcntl
import hashlib
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
# What the pinned sets are resolved for: the official image's Python and platform (scripts/pin_requirements.py).
PINNED_PYTHON_VERSION = "3.11"
PINNED_PLATFORM = "x86_64-unknown-linux-gnu"
# The chart ships them: its BuildConfig puts a version's pins into the Dockerfile (templates/buildconfig.yaml).
PINNED_DIR = REPO_ROOT / "charts" / "mlflow" / "files" / "requirements"


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


def pinned_file(version: str) -> Path | None:
    """The chart's pinned requirement set of MLflow `version`, None for a version without one."""
    path = PINNED_DIR / f"mlflow-{version}.txt"
    return path if path.is_file() else None


def pinned_requirements(version: str) -> list[str]:
    """The `name==version` lines of the pinned set of `version` (comments dropped); [] when it has none."""
    path = pinned_file(version)
    if path is None:
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def _requirements_text(version: str) -> tuple[str, bool]:
    """What the venv of `version` is built from, as a requirements file, and whether it is the pinned set."""
    path = pinned_file(version)
    if path is not None:
        return path.read_text(encoding="utf-8"), True
    return "".join(f"{requirement}\n" for requirement in requirements_for(version)), False


def _venv_for(version: str, requirements: str) -> Path:
    return MLFLOW_VENVS_DIR / f"{version}-{hashlib.sha256(requirements.encode()).hexdigest()[:12]}"


def venv_path(version: str) -> Path:
    """The venv of `version` for its current requirements. The name carries their digest, so a regenerated pinned set
    gets a new venv and the old one stays untouched for processes still running from it (`--prune` removes it)."""
    return _venv_for(version, _requirements_text(version)[0])


def ensure_mlflow_venv(version: str) -> Path:
    """Return the venv of MLflow `version`, building it once (safe across concurrent callers)."""
    requirements, pinned = _requirements_text(version)
    target = _venv_for(version, requirements)
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
        # The venv keeps the requirements it was built from (the ones its name's digest is of).
        (target / "requirements.txt").write_text(requirements, encoding="utf-8")
        # The pinned set is complete (uv resolved it): installed as the chart's Dockerfile installs it, no resolution.
        result = subprocess.run(
            [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(target / "bin" / "python"),
             *(["--no-deps"] if pinned else []), "-r", str(target / "requirements.txt")],
            env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            # No half-built venv left behind for the next caller to trip over.
            shutil.rmtree(target, ignore_errors=True)
            raise RuntimeError(f"could not build the MLflow {version} venv:\n{result.stderr[-4000:]}")
        marker.write_text(f"{version} {'pinned' if pinned else 'unpinned'}\n", encoding="utf-8")
    return target


def prune(versions: list[str]) -> list[Path]:
    """Remove the venvs of `versions` built from other requirements than today's (an older pinned set, or the
    unversioned `<ver>` folder of before): only when no test or sandbox runs, as a process may still use one."""
    removed = []
    for version in versions:
        current = venv_path(version)
        for path in MLFLOW_VENVS_DIR.glob(f"{version}*"):
            if path != current and path.is_dir() and (path.name == version or path.name.startswith(f"{version}-")):
                with open(MLFLOW_VENVS_DIR / f".{version}.lock", "w", encoding="utf-8") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


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
    versions = [arg for arg in argv if arg != "--prune"]
    if not versions:
        print("usage: python -m sandbox.runtime.venvs [--prune] MLFLOW_VERSION...", file=sys.stderr)
        return 2
    for version in versions:
        print(f"MLflow {version}: {ensure_mlflow_venv(version)}")
    if "--prune" in argv:
        for path in prune(versions):
            print(f"removed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
