"""The layers keep their direction: the sandbox (the cluster double) stands on its own, and the collection's code
imports neither the sandbox nor the tests (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.versions import REPO_ROOT


def imported_packages(folder: Path) -> dict[str, set[str]]:
    """The top-level package of every absolute import, by file."""
    found = {}
    for path in folder.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(REPO_ROOT))] = names
    return found


@pytest.mark.parametrize("folder, forbidden", [
    ("sandbox", {"tests", "benchmarks", "scripts"}),
    ("plugins", {"tests", "sandbox", "benchmarks", "scripts"}),
])
def test_a_layer_does_not_import_the_layers_above_it(folder, forbidden):
    imports = imported_packages(REPO_ROOT / folder)
    assert imports, f"no Python file found under {folder}/"
    offending = {path: sorted(names & forbidden) for path, names in imports.items() if names & forbidden}
    assert not offending, f"{folder}/ imports {offending}"
