"""Every value is declared in values.schema.json and documented in the chart's README and values.yaml."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import yaml

from tests.chart.render import CHART_DIR

VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))
README = (CHART_DIR / "README.md").read_text(encoding="utf-8")


def value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Paths of the values a user sets: descend where the schema lists the keys, stop at free-form maps."""
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        node = schema["properties"][key]  # KeyError: a value the schema does not declare
        paths.append(path)
        if isinstance(value, dict) and node.get("additionalProperties") is False:
            paths += value_paths(value, node, path + ".")
    return paths


def documented_leaf(path: str, paths: list[str]) -> bool:
    return not any(other.startswith(path + ".") for other in paths)


def test_default_values_satisfy_the_schema():
    jsonschema.Draft202012Validator(SCHEMA).validate(VALUES)


def test_every_value_is_declared_in_the_schema_with_a_description():
    paths = value_paths(VALUES, SCHEMA)
    assert len(paths) > 90
    for path in paths:
        node = SCHEMA
        for key in path.split("."):
            node = node["properties"][key]
        assert node.get("description"), f"{path} has no description in values.schema.json"


def test_every_value_is_in_the_readme_table_with_its_default():
    rows = dict(re.findall(r"^\| `([\w.]+)` \| `(.*?)` \|", README, flags=re.MULTILINE))
    paths = value_paths(VALUES, SCHEMA)
    for path in paths:
        documented = path in rows or any(path.startswith(row + ".") for row in rows)
        assert documented or not documented_leaf(path, paths), f"{path} is missing from charts/mlflow/README.md"
    for row, default in rows.items():
        value: Any = VALUES
        for key in row.split("."):
            value = value[key]
        assert json.loads(default) == value, f"README default of {row} differs from values.yaml"


def commented_paths() -> set[str]:
    """Paths of the keys in values.yaml that are directly preceded by a `# --` comment block."""
    stack: list[tuple[int, str]] = []
    commented: set[str] = set()
    in_comment = False
    for line in (CHART_DIR / "values.yaml").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            in_comment = True
            continue
        if stripped.startswith("#"):
            continue
        match = re.match(r"^(\s*)(\w+):", line)
        if match:
            indent = len(match.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(2)))
            if in_comment:
                commented.add(".".join(key for _indent, key in stack))
        in_comment = False
    return commented


def test_every_documented_value_has_its_comment_in_values_yaml():
    rows = re.findall(r"^\| `([\w.]+)` \|", README, flags=re.MULTILINE)
    assert rows
    assert set(rows) <= commented_paths()
