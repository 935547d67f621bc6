"""The live scenarios (tests/live) see the cluster only as a person with a real cluster does: they import nothing
of the sandbox, directly or through a helper they import. Only their conftest names the sandbox provisioner, and
only as the fallback when no --live-target is given (docs/live-testing.md)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.versions import REPO_ROOT

LIVE = REPO_ROOT / "tests" / "live"
FORBIDDEN = ("sandbox", "tests.sandbox", "tests.e2e")


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in `path` names (relative imports resolved)."""
    inside = path.resolve().is_relative_to(REPO_ROOT)
    package = ".".join(path.resolve().relative_to(REPO_ROOT).with_suffix("").parts[:-1]) if inside else ""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def module_file(name: str) -> Path | None:
    """The file of a module of this checkout (a package's __init__), or None for a third-party one."""
    module = REPO_ROOT / Path(*name.split("."))
    for candidate in (module.with_suffix(".py"), module / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def closure(files: list[Path]) -> dict[str, Path]:
    """Every module of this checkout that `files` import, transitively, with the file that first imported it."""
    seen: dict[str, Path] = {}
    queue = list(files)
    visited = set()
    while queue:
        path = queue.pop()
        if path in visited:
            continue
        visited.add(path)
        for name in imported_modules(path):
            target = module_file(name)
            if target is not None and target.resolve() != path.resolve():
                seen.setdefault(name, path)
                queue.append(target)
    return seen


def forbidden(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN)


def test_the_live_scenarios_import_nothing_of_the_sandbox():
    files = sorted(LIVE.glob("*.py"))
    assert {path.name for path in files} >= {"conftest.py", "installation.py", "kube.py", "target.py",
                                             "test_installation_lifecycle.py"}
    imports = closure(files)
    assert "tests.support.ansible_run" in imports and "tests.live.kube" in imports  # the walk follows imports
    offending = {name: str(path.relative_to(REPO_ROOT)) for name, path in imports.items() if forbidden(name)}
    assert offending == {}


def test_only_the_conftest_names_the_sandbox_provisioner_as_its_fallback():
    mentions = [path.name for path in LIVE.glob("*.py") if "tests.e2e" in path.read_text(encoding="utf-8")]
    assert mentions == ["conftest.py"]
    source = (LIVE / "conftest.py").read_text(encoding="utf-8")
    assert 'SANDBOX_PROVISIONER = "tests.e2e.live_sandbox"' in source
    assert 'if path:\n        yield Target.load(path)\n        return' in source


def test_the_check_sees_an_import_of_the_sandbox(tmp_path: Path):
    """The walk above would notice: a module importing the sandbox through a helper is caught."""
    helper = REPO_ROOT / "tests" / "e2e" / "sandbox_flows.py"
    probe = tmp_path / "probe.py"
    probe.write_text("from tests.support.ansible_run import run_playbook\nfrom tests.e2e import sandbox_flows\n")
    names = closure([probe])
    assert "tests.e2e.sandbox_flows" in names and helper.is_file()
    assert any(forbidden(name) for name in names)
    assert any(name.startswith("tests.sandbox") for name in closure([helper]))
