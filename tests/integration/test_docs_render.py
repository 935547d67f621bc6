"""ansible-doc renders every module, filter and role of the collection, from the repository root."""

import json
import subprocess

import pytest

from tests.support.versions import REPO_ROOT

ANSIBLE_DOC = str(REPO_ROOT / ".venv" / "bin" / "ansible-doc")
MODULES = sorted(p.stem for p in (REPO_ROOT / "plugins" / "modules").glob("*.py"))
FILTERS = sorted(p.stem for p in (REPO_ROOT / "plugins" / "filter").glob("*.py"))
ROLES = sorted(p.name for p in (REPO_ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())


def ansible_doc(*args: str) -> dict:
    result = subprocess.run([ANSIBLE_DOC, "--json", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", MODULES)
def test_module_docs_render_with_examples(name):
    doc = ansible_doc("-t", "module", f"mlops.mlflow.{name}")[f"mlops.mlflow.{name}"]
    assert doc["doc"]["short_description"] and doc["doc"]["options"] and doc["examples"].strip()
    assert doc["return"], name


@pytest.mark.parametrize("name", FILTERS)
def test_filter_docs_render(name):
    doc = ansible_doc("-t", "filter", f"mlops.mlflow.{name}")[f"mlops.mlflow.{name}"]
    assert doc["doc"]["short_description"] and doc["examples"].strip()


@pytest.mark.parametrize("name", ROLES)
def test_role_docs_render(name):
    doc = ansible_doc("-t", "role", f"mlops.mlflow.{name}")
    entry_points = doc[f"mlops.mlflow.{name}"]["entry_points"]
    assert entry_points and all(point["short_description"] for point in entry_points.values())


def test_module_list_is_complete():
    listed = subprocess.run([ANSIBLE_DOC, "-t", "module", "-l", "mlops.mlflow"], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True).stdout
    for name in MODULES:
        assert f"mlops.mlflow.{name}" in listed
