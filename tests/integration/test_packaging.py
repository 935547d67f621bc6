"""What the collection ships, and what its execution environment declares."""

import ast
import os
import secrets
import shutil
import subprocess
import sys
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


# Runs in the Python of the target MLflow (its image or venv has MLflow, alembic, SQLAlchemy and werkzeug), never in
# the execution environment: mlflow_migrate ships it as a helper program.
TARGET_PYTHON_ONLY = {"mlflow_migrate_runner.py"}


def third_party_imports() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "plugins").rglob("*.py"):
        if path.name in TARGET_PYTHON_ONLY:
            continue
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


# What the tarball holds at its top level: the collection's content, nothing a tool left in the checkout.
SHIPPED_TOP_LEVEL = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.rst", "ansible.cfg",
                     "execution-environment.yml", "awx", "changelogs", "charts", "docs", "inventories", "meta",
                     "playbooks", "plugins", "roles"}


def test_tarball_built_after_the_sandbox_and_the_tests_ran_holds_no_state_cache_or_secret(tmp_path: Path):
    """The tools' state and cache folders (the sandbox's `.sandbox/`, whose audit log records Secret bodies,
    pytest's and hypothesis' caches) are made for real in a copy of the checkout, then the collection is built."""
    checkout = tmp_path / "checkout"
    # The checkout's files as git sees them (tracked, and new ones not ignored), without anything a tool made.
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        if not (REPO_ROOT / name).is_file():
            continue  # deleted in the work tree
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, checkout / name)
    env = dict(os.environ, MLOPS_SCHEMAS_DIR=str(REPO_ROOT.parent / "shared" / "schemas"))
    env.pop("SANDBOX_STATE_DIR", None)
    marker = secrets.token_hex(16)
    sandbox = [sys.executable, "-m", "sandbox"]
    subprocess.run([*sandbox, "up", "--stand-ins"], cwd=checkout, env=env, check=True, capture_output=True)
    try:
        subprocess.run(["/usr/bin/kubectl", "--kubeconfig", str(checkout / ".sandbox" / "kubeconfig"), "create",
                        "secret", "generic", "leak-check", f"--from-literal=password={marker}"],
                       env=env, check=True, capture_output=True)
    finally:
        subprocess.run([*sandbox, "down"], cwd=checkout, env=env, check=True, capture_output=True)
    assert marker in (checkout / ".sandbox" / "audit.jsonl").read_text(), "the audit log did not record the Secret"
    # The copy's tests import the collection as `make setup` links it (collections/ansible_collections/mlops/mlflow).
    (checkout / "collections" / "ansible_collections" / "mlops").mkdir(parents=True)
    (checkout / "collections" / "ansible_collections" / "mlops" / "mlflow").symlink_to(checkout)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/unit/test_cluster_name.py"], cwd=checkout,
                           env=env, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout[-2000:]
    assert (checkout / ".hypothesis").is_dir() and (checkout / ".pytest_cache").is_dir()

    subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
                    str(checkout)], check=True, capture_output=True, text=True)
    with tarfile.open(next(tmp_path.glob("mlops-mlflow-*.tar.gz"))) as archive:
        members = [member for member in archive.getmembers() if member.isfile()]
        top_level = {member.name.split("/")[0] for member in members}
        leaking = [member.name for member in members if marker.encode() in archive.extractfile(member).read()]
    assert top_level <= SHIPPED_TOP_LEVEL, f"shipped but not collection content: {top_level - SHIPPED_TOP_LEVEL}"
    assert not leaking, f"the Secret's value is inside the tarball: {leaking}"
    names = {member.name for member in members}
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    # The sandbox's inventory holds the sandbox's credentials and is useless without the sandbox (not shipped).
    assert not any(name.startswith("inventories/sandbox/") for name in names)
    assert "inventories/example/hosts.yml" in names


def test_execution_environment_context_is_created(tmp_path: Path):
    result = subprocess.run(["make", "-s", "ee-context"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    context = REPO_ROOT / "build" / "ee-context"
    assert (context / "_build" / "collection").glob("mlops-mlflow-*.tar.gz")
    requirements = (context / "_build" / "requirements.txt").read_text()
    assert "kubernetes" in requirements and "boto3" in requirements
    assert "kubernetes.core" in (context / "_build" / "requirements.yml").read_text()
