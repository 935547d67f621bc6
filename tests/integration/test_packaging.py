"""What the collection ships, and what its execution environment declares."""

import ast
import subprocess
import tarfile
from pathlib import Path

from tests.support.versions import REPO_ROOT

VENV_BIN = REPO_ROOT / ".venv" / "bin"
# Import name -> the requirement line (meta/ee-requirements.txt) that provides it.
PROVIDED_BY = {"kubernetes": "kubernetes", "boto3": "boto3", "botocore": "boto3", "ruamel": "ruamel.yaml",
               "jsonpatch": "jsonpatch", "psycopg2": "psycopg2-binary", "requests": "requests"}
# Shipped with ansible-core (or the standard library), never a requirement of ours.
CORE = {"ansible", "ansible_collections", "yaml", "jinja2", "__future__"}
# Requirements of the collections we depend on (kubernetes.core's JSON patches), not imported by our plugins.
FOR_DEPENDENCIES = {"jsonpatch"}


def third_party_imports() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    import sys  # pylint: disable=import-outside-toplevel
    return {name for name in names if name not in CORE and name not in sys.stdlib_module_names}


def test_ee_requirements_cover_what_the_plugins_import():
    requirements = {line.split(">")[0].split("=")[0].split("<")[0].strip().lower()
                    for line in (REPO_ROOT / "meta" / "ee-requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")}
    imported = third_party_imports()
    assert imported, "the scan found no third-party import at all"
    missing = {name for name in imported if PROVIDED_BY.get(name, name).lower() not in requirements}
    assert not missing, f"imported by plugins but not in meta/ee-requirements.txt: {missing}"
    unused = requirements - FOR_DEPENDENCIES - {PROVIDED_BY.get(name, name).lower() for name in imported}
    assert not unused, f"in meta/ee-requirements.txt but imported by no plugin: {unused}"


def test_collection_tarball_ships_the_chart_roles_and_playbooks_not_the_test_infrastructure(tmp_path: Path):
    subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
                    str(REPO_ROOT)], check=True, capture_output=True, text=True)
    tarball = next(tmp_path.glob("mlops-mlflow-*.tar.gz"))
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    for shipped in ("charts/mlflow/templates/deployment.yaml", "charts/mlflow/values.schema.json",
                    "roles/upgrade/meta/argument_specs.yml", "playbooks/upgrade.yml",
                    "plugins/modules/mlflow_migrate.py", "meta/runtime.yml"):
        assert shipped in names, shipped
    for prefix in ("tests/", "sandbox/", "benchmarks/", ".venv/", ".cache/", "collections/", "build/"):
        assert not any(name.startswith(prefix) for name in names), prefix


def test_execution_environment_context_is_created(tmp_path: Path):
    result = subprocess.run(["make", "-s", "ee-context"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    context = REPO_ROOT / "build" / "ee-context"
    assert (context / "_build" / "collection").glob("mlops-mlflow-*.tar.gz")
    requirements = (context / "_build" / "requirements.txt").read_text()
    assert "kubernetes" in requirements and "boto3" in requirements
    assert "kubernetes.core" in (context / "_build" / "requirements.yml").read_text()
