"""The versions the tests pin, read from tests/versions.env (the one place they are written)."""

from __future__ import annotations

import shlex
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_VERSIONS_FILE = REPO_ROOT / "tests" / "versions.env"


def _read_versions_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        parsed = shlex.split(value, comments=True)
        values[key.strip()] = " ".join(parsed)
    return values


_VALUES = _read_versions_file(_VERSIONS_FILE)

BARMAN_VERSION = _VALUES["BARMAN_VERSION"]
MLFLOW_VERSIONS = tuple(_VALUES["MLFLOW_VERSIONS"].split())
OLDEST_MLFLOW, NEWEST_MLFLOW = MLFLOW_VERSIONS[0], MLFLOW_VERSIONS[-1]
