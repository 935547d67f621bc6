"""Make `ansible_collections.mlops.mlflow` importable for unit tests of plugins/module_utils."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "collections"))
