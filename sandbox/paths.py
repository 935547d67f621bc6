"""Where the sandbox keeps its state, and where the schemas it validates against live."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Schemas of the custom and OpenShift kinds (CNPG, Barman Cloud plugin, Route, BuildConfig, ...), read in place.
SCHEMAS_DIR = Path(os.environ.get("MLOPS_SCHEMAS_DIR", REPO_ROOT.parent / "shared" / "schemas"))

# The Kubernetes minor whose schemas (bundled in kubernetes-validate) validate built-in kinds.
KUBERNETES_VERSION = "1.33.0"


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The sandbox state folder: `--state-dir`, else $SANDBOX_STATE_DIR, else `.sandbox/` at the repo root."""
    chosen = explicit or os.environ.get("SANDBOX_STATE_DIR") or REPO_ROOT / ".sandbox"
    return Path(chosen).resolve()
