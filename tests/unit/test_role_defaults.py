"""Every role option has its default in defaults/main.yml, equal to the one meta/argument_specs.yml documents, and
the playbooks pass the inventory's inputs plainly: their defaults live in one role (roles/mlflow), never in a
`| default()` of a playbook (docs/architecture.md, "The pattern for a new piece")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.support.versions import REPO_ROOT

ROLES = sorted(path for path in (REPO_ROOT / "roles").iterdir() if (path / "tasks").is_dir() or (path / "meta").is_dir())
PLAYBOOKS = sorted((REPO_ROOT / "playbooks").glob("*.yml"))


def load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def entry_points(role: Path) -> dict:
    return load(role / "meta" / "argument_specs.yml")["argument_specs"]


def documented(role: Path) -> dict[str, dict]:
    """Every option of every entry point (an option shared by entry points must be documented alike)."""
    options: dict[str, dict] = {}
    for point, spec in entry_points(role).items():
        for name, option in (spec.get("options") or {}).items():
            if name in options:
                assert option.get("default") == options[name].get("default"), \
                    f"{role.name}: {name} has another default in entry point {point}"
                assert option.get("type") == options[name].get("type"), \
                    f"{role.name}: {name} has another type in entry point {point}"
            options[name] = option
    return options


def defaults(role: Path) -> dict:
    path = role / "defaults" / "main.yml"
    return (load(path) or {}) if path.exists() else {}


def test_every_role_documents_its_options():
    assert {role.name for role in ROLES} >= {"backup_check", "common", "deploy", "drill", "mlflow", "recovery", "upgrade"}
    for role in ROLES:
        assert (role / "meta" / "argument_specs.yml").is_file(), f"{role.name} has no meta/argument_specs.yml"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_every_documented_default_is_in_defaults_main(role: Path):
    values = defaults(role)
    missing = {name: option["default"] for name, option in documented(role).items()
               if option.get("default") is not None and name not in values}
    different = {name: (option["default"], values[name]) for name, option in documented(role).items()
                 if option.get("default") is not None and name in values and values[name] != option["default"]}
    assert not missing, f"{role.name}/defaults/main.yml lacks {missing}"
    assert not different, f"{role.name}: argument_specs default != defaults/main.yml: {different}"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_every_default_is_a_documented_option_with_that_default(role: Path):
    options = documented(role)
    undocumented = sorted(set(defaults(role)) - set(options))
    assert not undocumented, f"{role.name}/defaults/main.yml sets options no entry point documents: {undocumented}"
    # An option without a documented default may only default to null (not given).
    silent = {name: value for name, value in defaults(role).items()
              if options[name].get("default") is None and value is not None}
    assert not silent, f"{role.name}: defaults the argument specs do not document: {silent}"


def test_every_common_task_file_is_a_documented_entry_point():
    common = REPO_ROOT / "roles" / "common"
    files = {path.stem for path in (common / "tasks").glob("*.yml")}
    assert files == set(entry_points(common)), "roles/common/tasks/*.yml and the entry points of its argument specs"
    listed = load(common / "tasks" / "main.yml")[0]["ansible.builtin.fail"]["msg"]
    assert set(re.findall(r"[a-z_]+", listed.split("(", 1)[1])) == files - {"main"}, "the entry points main.yml lists"


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda path: path.name)
def test_playbooks_pass_the_inputs_plainly(playbook: Path):
    text = playbook.read_text(encoding="utf-8")
    # Play keywords (hosts, serial) are templated before any role's defaults exist: theirs are the only ones here,
    # and the same as roles/mlflow/defaults/main.yml's (below).
    keywords = {match[0]: match[1] for match in re.findall(r"^  (hosts|serial): (.*)$", text, re.MULTILINE)}
    assert keywords.get("hosts") == '"{{ mlflow_hosts | default(\'mlflow\') }}"', f"{playbook.name}: hosts"
    inputs_defaults = yaml.safe_load((REPO_ROOT / "roles" / "mlflow" / "defaults" / "main.yml").read_text())
    assert inputs_defaults["mlflow_hosts"] == "mlflow" and inputs_defaults["mlflow_upgrade_batches"] == [1, "25%"]
    if "serial" in keywords:
        assert keywords["serial"] == '"{{ mlflow_upgrade_batches | default([1, \'25%\']) }}"', playbook.name
    body = re.sub(r"^  (hosts|serial): .*$", "", text, flags=re.MULTILINE)
    assert "default(" not in body, f"{playbook.name}: a default belongs in roles/mlflow/defaults/main.yml"
    inputs = set(re.findall(r"\{\{\s*(mlflow_[a-z_]+)\s*\}\}", text))
    assert inputs <= set(documented(REPO_ROOT / "roles" / "mlflow")), f"{playbook.name}: undocumented inputs"
    for play in load(playbook):
        first = play["pre_tasks"][0]["ansible.builtin.import_role"]
        assert first == {"name": "mlops.mlflow.mlflow", "public": True}, f"{playbook.name}: the inputs' role comes first"
