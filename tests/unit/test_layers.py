"""The layers keep their direction: the sandbox (the cluster double) stands on its own, and the collection's code
imports neither the sandbox nor the tests (docs/architecture.md). Inside the sandbox, the controllers and the
processes behind the objects reach the API server through the controllers' client only, as a real controller
does (docs/sandbox.md)."""

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


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved: `from ..apiserver import errors` in
    sandbox/controllers/x.py is sandbox.apiserver and sandbox.apiserver.errors."""
    package = path.relative_to(REPO_ROOT).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


CLIENT = REPO_ROOT / "sandbox" / "controllers" / "client.py"


def _apiserver(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m == "sandbox.apiserver" or m.startswith("sandbox.apiserver."))


def test_the_controllers_client_is_what_reaches_the_api_server():
    assert "sandbox.apiserver.operations" in _apiserver(imported_modules(CLIENT))


@pytest.mark.parametrize("folder", ["sandbox/controllers", "sandbox/runtime"])
def test_controllers_reach_the_api_server_only_through_their_client(folder):
    offending = {str(path.relative_to(REPO_ROOT)): _apiserver(imported_modules(path))
                 for path in (REPO_ROOT / folder).rglob("*.py") if path != CLIENT}
    offending = {path: names for path, names in offending.items() if names}
    assert not offending, f"import the API server's internals instead of using controllers/client.py: {offending}"
