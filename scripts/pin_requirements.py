"""`make requirements`: the pinned requirement set of the MLflow image of every supported version.

For each version of tests/versions.env (MLFLOW_VERSIONS), `uv pip compile` resolves what the image installs on top
of the official one (`requirements_for` in sandbox/runtime/venvs.py: mlflow[auth]==<ver>, the PostgreSQL drivers,
boto3) for the official image's Python and platform into charts/mlflow/files/requirements/mlflow-<ver>.txt: exact
pins, which the chart's BuildConfig installs with --no-deps and the sandbox's venv of that version is built from.
So a rebuild of a tag gives the same packages. uv keeps the pins of an existing file wherever they still fit, so
adding a version changes no other file; `--upgrade` (`make requirements UPGRADE=1`) resolves everything anew. The
files of versions no longer supported are removed. Only this needs the package index.

    .venv/bin/python scripts/pin_requirements.py [--upgrade] [VERSION...]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# pylint: disable=wrong-import-position
from sandbox.runtime.venvs import (  # noqa: E402
    PINNED_DIR,
    PINNED_PLATFORM,
    PINNED_PYTHON_VERSION,
    UV_CACHE_DIR,
    requirements_for,
    uv_executable,
)
from tests.support.versions import MLFLOW_VERSIONS, REPO_ROOT  # noqa: E402


def compile_pins(version: str, upgrade: bool) -> Path:
    """Write the pinned set of `version`; the header says how it was made and from which requirements."""
    output = PINNED_DIR / f"mlflow-{version}.txt"
    wanted = requirements_for(version)
    how = f"make requirements (uv pip compile for Python {PINNED_PYTHON_VERSION}, {PINNED_PLATFORM}): {' '.join(wanted)}"
    # The input comes on stdin, so the direct requirements carry no `# via` line naming a temporary file.
    subprocess.run([uv_executable(), "pip", "compile", "--quiet", "-", "--output-file", str(output),
                    "--python-version", PINNED_PYTHON_VERSION, "--python-platform", PINNED_PLATFORM,
                    "--custom-compile-command", how, *(["--upgrade"] if upgrade else [])],
                   input="".join(f"{requirement}\n" for requirement in wanted), text=True, check=True,
                   env={**os.environ, "UV_CACHE_DIR": str(UV_CACHE_DIR)})
    return output


def main(argv: list[str]) -> int:
    upgrade = "--upgrade" in argv
    versions = [arg for arg in argv if arg != "--upgrade"] or list(MLFLOW_VERSIONS)
    PINNED_DIR.mkdir(parents=True, exist_ok=True)
    for version in versions:
        print(f"MLflow {version}: {compile_pins(version, upgrade).relative_to(REPO_ROOT)}")
    if not argv or argv == ["--upgrade"]:
        # The chart pins the supported versions only; any other renders unpinned.
        for stale in sorted(set(PINNED_DIR.glob("mlflow-*.txt")) - {PINNED_DIR / f"mlflow-{v}.txt" for v in versions}):
            stale.unlink()
            print(f"removed {stale.relative_to(REPO_ROOT)} (not in tests/versions.env)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
