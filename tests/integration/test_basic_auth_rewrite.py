"""mlops.mlflow.basic_auth_rewrite on files, run through ansible-playbook, and checked with a real MLflow server.

The end-to-end case mirrors a recovery: the auth database is copied to another PostgreSQL (the "new cluster") whose
app user has another password, the module points basic-auth.ini at it, and a real MLflow 3.x basic-auth server
started with the rewritten file must authenticate the admin against the copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
import yaml

from sandbox.runtime.postgres import PG_BIN
from sandbox.runtime.venvs import ensure_mlflow_venv
from tests.support.ansible_run import run_module, run_playbook
from tests.support.mlflow_server import ADMIN_PASSWORD, ADMIN_USERNAME, escape_ini_value, start_mlflow_server

MODULE = "mlops.mlflow.basic_auth_rewrite"
MLFLOW_VERSION = "3.17.2"
SOURCE_APP_PASSWORD = "app-pass%word@1"  # the password tests/conftest.py's mlflow_databases gives `app`


def secret_forms(password: str) -> set[str]:
    """Every way a password may show up in text: as given, URL-encoded, and %-escaped for the ini."""
    encoded = quote(password, safe="")
    return {password, encoded, escape_ini_value(encoded), escape_ini_value(password)}


def assert_no_secret(run, *passwords: str) -> None:
    text = run.stdout + run.stderr
    for password in passwords:
        for form in secret_forms(password):
            assert form not in text, "a form of a password leaked into the ansible output"


def auth_ini_text(database_uri: str, newline: str = "\n") -> str:
    lines = [
        "# MLflow basic-auth settings (written by the deploy role)",
        "[mlflow]",
        "default_permission = READ",
        "; the auth database: the CNPG cluster's app user",
        f"database_uri = {escape_ini_value(database_uri)}",
        "# database_uri = sqlite:///basic_auth.db",
        f"admin_username = {ADMIN_USERNAME}",
        f"admin_password = {escape_ini_value(ADMIN_PASSWORD)}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
    ]
    return newline.join(lines) + newline


def start_scram_postgres(pg_factory):
    """A PostgreSQL that checks passwords over TCP (scram-sha-256); only the suite's superuser is trusted."""
    instance = pg_factory(start=False, name="recovered")
    instance.init()
    hba = instance.data_dir / "pg_hba.conf"
    hba.write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n",
        encoding="utf-8",
    )
    return instance.start()


def copy_database(source, target, name: str, owner: str, password: str) -> None:
    """pg_dump the database from `source` and restore it into `target`, owned by `owner` (as after a recovery)."""
    target.sql(f'CREATE ROLE "{owner}" LOGIN PASSWORD %s', (password,))
    target.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    dump = subprocess.run(
        [str(PG_BIN / "pg_dump"), "-h", "127.0.0.1", "-p", str(source.port), "-U", source.superuser,
         "--no-owner", "--no-privileges", name],
        check=True, capture_output=True, timeout=120,
    )
    subprocess.run(
        [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(target.port), "-U", owner, "-d", name,
         "-v", "ON_ERROR_STOP=1", "-q"],
        input=dump.stdout, check=True, capture_output=True, timeout=120,
        env={**os.environ, "PGPASSWORD": password},
    )


@pytest.fixture
def auth_db_source(pg, mlflow_databases, mlflow_server_factory):
    """The tracking and auth databases with the admin user created by a first MLflow start."""
    server = mlflow_server_factory(MLFLOW_VERSION, mlflow_databases["tracking"], mlflow_databases["auth"])
    assert server.api("GET", "experiments/search?max_results=1").status_code == 200
    server.stop()
    return pg, mlflow_databases


@pytest.mark.parametrize("new_password", ["Plain-recovered-passw0rd", "p%40ss@w:rd/#;x"],
                         ids=["plain-password", "password-with-percent-and-at"])
def test_mlflow_authenticates_against_the_recovered_copy(new_password, auth_db_source, pg_factory, work_dir):
    source, databases = auth_db_source
    recovered = start_scram_postgres(pg_factory)
    copy_database(source, recovered, "mlflow_auth", "app", new_password)
    with pytest.raises(psycopg2.OperationalError):  # the copy really checks the app password
        psycopg2.connect(host="127.0.0.1", port=recovered.port, user="app", password=SOURCE_APP_PASSWORD,
                         dbname="mlflow_auth", connect_timeout=10).close()

    old_uri = databases["auth"].replace("postgresql://", "postgresql+psycopg2://") + "?sslmode=disable"
    ini = work_dir / "basic-auth.ini"
    original = auth_ini_text(old_uri, newline="\r\n").encode("utf-8")
    ini.write_bytes(original)
    ini.chmod(0o640)
    args = {"path": str(ini), "uri_host": "localhost", "uri_port": recovered.port, "uri_password": new_password,
            "backup": True, "mode": "0600"}

    preview = run_module(MODULE, args, check=True, diff=True, verbosity=3)
    assert preview.returncode == 0, preview.stdout[-3000:]
    assert preview.result["changed"] is True
    assert ini.read_bytes() == original
    assert "backup_file" not in preview.result
    assert_no_secret(preview, new_password, SOURCE_APP_PASSWORD, ADMIN_PASSWORD)

    applied = run_module(MODULE, args, verbosity=3)
    assert applied.returncode == 0, applied.stdout[-3000:]
    result = applied.result
    assert result["changed"] is True
    assert result["before"] == {"host": "127.0.0.1", "port": source.port, "database": "mlflow_auth",
                                "username": "app"}
    assert result["after"] == {"host": "localhost", "port": recovered.port, "database": "mlflow_auth",
                               "username": "app"}
    rewritten = ini.read_bytes()
    assert result["checksum"] == hashlib.sha256(rewritten).hexdigest() == preview.result["checksum"]
    assert Path(result["backup_file"]).read_bytes() == original
    assert oct(ini.stat().st_mode & 0o777) == "0o600"
    expected_uri = (f"postgresql+psycopg2://app:{quote(new_password, safe='')}@localhost:{recovered.port}"
                    "/mlflow_auth?sslmode=disable")
    assert rewritten == auth_ini_text(expected_uri, newline="\r\n").encode("utf-8")
    assert_no_secret(applied, new_password, SOURCE_APP_PASSWORD, ADMIN_PASSWORD)

    server = start_mlflow_server(MLFLOW_VERSION, databases["tracking"], ini, work_dir / "mlflow-recovered")
    try:
        assert server.api("GET", "experiments/search?max_results=1").status_code == 200
        assert server.api("GET", "experiments/search?max_results=1",
                          auth=(ADMIN_USERNAME, "wrong-password")).status_code == 401
        new_user = {"username": "after-recovery", "password": "After-recovery-passw0rd"}
        created = server.api("POST", "users/create", json=new_user)
        assert created.status_code == 200, created.text
    finally:
        server.stop()
    # The server used the copy, not the source it was first pointed at.
    assert recovered.sql("SELECT username FROM users WHERE username = 'after-recovery'", dbname="mlflow_auth")
    assert not source.sql("SELECT username FROM users WHERE username = 'after-recovery'", dbname="mlflow_auth")


# ---- file behaviour (no database needed) ----

OLD_PASSWORD = "0ld-p%40ss@word"
OLD_URI = f"postgresql://app:{quote(OLD_PASSWORD, safe='')}@pg-cluster-v1-rw:5432/mlflow_auth?sslmode=require"
NEW_PASSWORD = "n3w%25p@ss:/#;"


@pytest.fixture
def ini_file(work_dir) -> Path:
    path = work_dir / "basic-auth.ini"
    path.write_text(auth_ini_text(OLD_URI), encoding="utf-8")
    path.chmod(0o640)
    return path


def test_check_mode_with_diff_writes_nothing_and_masks_passwords(ini_file):
    before = ini_file.read_bytes()
    stat = ini_file.stat()
    run = run_module(MODULE, {"path": str(ini_file), "uri_host": "pg-cluster-v2-rw", "uri_password": NEW_PASSWORD,
                              "backup": True}, check=True, diff=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.result["changed"] is True
    assert ini_file.read_bytes() == before
    assert ini_file.stat().st_mtime_ns == stat.st_mtime_ns
    assert sorted(p.name for p in ini_file.parent.iterdir()) == ["basic-auth.ini"]
    diff = run.result["diff"][0]
    assert diff["before"] == ("[mlflow]\ndatabase_uri = postgresql://app:********@pg-cluster-v1-rw:5432/mlflow_auth"
                              "?sslmode=require\n")
    assert diff["after"] == (diff["before"].replace("pg-cluster-v1-rw", "pg-cluster-v2-rw")
                             + "# the database password changes (not shown)\n")
    assert_no_secret(run, OLD_PASSWORD, NEW_PASSWORD, ADMIN_PASSWORD)


def test_second_run_reports_no_change_and_writes_nothing(ini_file):
    args = {"path": str(ini_file), "uri_host": "pg-cluster-v2-rw", "uri_password": NEW_PASSWORD}
    first = run_module(MODULE, args)
    assert first.returncode == 0 and first.result["changed"] is True, first.stdout[-3000:]
    stat = ini_file.stat()
    second = run_module(MODULE, args, diff=True)
    assert second.returncode == 0
    assert second.result["changed"] is False
    assert second.result["checksum"] == first.result["checksum"] == hashlib.sha256(ini_file.read_bytes()).hexdigest()
    assert (ini_file.stat().st_ino, ini_file.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert oct(ini_file.stat().st_mode & 0o777) == "0o640"  # kept when mode is not given
    assert_no_secret(second, OLD_PASSWORD, NEW_PASSWORD)


def test_mode_alone_is_a_change_and_no_temporary_file_is_left(ini_file):
    run = run_module(MODULE, {"path": str(ini_file), "mode": "0600"})
    assert run.returncode == 0
    assert run.result["changed"] is True
    assert oct(ini_file.stat().st_mode & 0o777) == "0o600"
    assert ini_file.read_text(encoding="utf-8") == auth_ini_text(OLD_URI)
    assert run_module(MODULE, {"path": str(ini_file), "mode": "0600"}).result["changed"] is False
    run_module(MODULE, {"path": str(ini_file), "uri_host": "pg-cluster-v2-rw"})
    assert sorted(p.name for p in ini_file.parent.iterdir()) == ["basic-auth.ini"]


def test_symlink_is_followed_and_kept(ini_file):
    link = ini_file.parent / "current.ini"
    link.symlink_to(ini_file.name)
    run = run_module(MODULE, {"path": str(link), "uri_host": "pg-cluster-v2-rw"})
    assert run.returncode == 0, run.stdout[-3000:]
    assert link.is_symlink()
    assert "@pg-cluster-v2-rw:5432/" in ini_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("content, args, message", [
    (None, {"uri_host": "pg-cluster-v2-rw"}, "does not exist"),
    ("[other]\nx = 1\n", {"uri_host": "pg-cluster-v2-rw"}, "has no [mlflow] section"),
    ("[mlflow]\nadmin_password = s3cr3t-admin\n", {"uri_host": "pg-cluster-v2-rw"}, "has no database_uri in [mlflow]"),
    ("[mlflow]\ndatabase_uri = s3cr3t-not-a-uri\n", {"uri_host": "pg-cluster-v2-rw"}, "is not a usable URI"),
    (auth_ini_text(OLD_URI), {"uri_host": "pg_cluster_v2"}, "is not a valid hostname"),
    (auth_ini_text(OLD_URI), {"uri_host": "pg-cluster-v2-rw", "uri_port": 70000}, "is not a TCP port"),
    (auth_ini_text(OLD_URI), {"secret": {"name": "x", "namespace": "y"}, "backup": True}, "only apply to path"),
    ("[mlflow]\ndatabase_uri = postgresql://app@h/d?password=s3cr3t-admin\n", {}, "query string"),
])
def test_errors_are_clear_and_leave_the_file_untouched(work_dir, content, args, message):
    path = work_dir / "basic-auth.ini"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    module_args = {"uri_password": NEW_PASSWORD, **args}
    if "secret" not in args:
        module_args["path"] = str(path)
    run = run_module(MODULE, module_args, verbosity=3)
    assert run.returncode != 0
    assert message in run.result["msg"]
    if content is not None:
        assert path.read_text(encoding="utf-8") == content
        assert sorted(p.name for p in work_dir.iterdir()) == ["basic-auth.ini"]
    assert_no_secret(run, NEW_PASSWORD, OLD_PASSWORD, "s3cr3t-admin", "s3cr3t-not-a-uri")


CONFORMANCE_SCRIPT = """
import configparser, json, sys
from sqlalchemy.engine import make_url
from ansible_collections.mlops.mlflow.plugins.module_utils.basic_auth_ini import rewrite_database_uri
from ansible_collections.mlops.mlflow.plugins.module_utils.sqlalchemy_uri import parse_uri

def parts(u):
    return [u.username, u.password, u.host, u.port, u.database, dict(u.query)]

pairs = []
for case in json.load(sys.stdin):
    text = rewrite_database_uri(case["ini"], **case["changes"]).text
    parser = configparser.ConfigParser()
    parser.read_string(text)
    uri = parser["mlflow"]["database_uri"]
    pairs.append([parts(parse_uri(uri)), parts(make_url(uri)), parts(make_url(uri)) == case["expected"]])
json.dump(pairs, sys.stdout)
"""


def test_sqlalchemy_in_mlflow_reads_the_rewritten_uri_as_intended():
    """MLflow's own SQLAlchemy (in its venv, reading the ini with configparser) gets exactly the parts given, and
    our parser splits the URI the same way."""
    cases = []
    for password in ["p%40ss@w:rd/#;x", "%", "100%%", "a b+c", "é?&=", "[x]", "u:v@w"]:
        for host, written_host in [("pg-cluster-v2-rw", "pg-cluster-v2-rw"), ("10.1.2.3", "10.1.2.3"),
                                   ("::1", "::1"), ("[fd00::5]", "fd00::5")]:
            changes = {"host": host, "port": 6543, "password": password, "username": "us@r:x",
                       "database": "mlflow/auth db"}
            expected = ["us@r:x", password, written_host, 6543, "mlflow/auth db", {"sslmode": "require"}]
            cases.append({"ini": auth_ini_text(OLD_URI), "changes": changes, "expected": expected})
    python = ensure_mlflow_venv(MLFLOW_VERSION) / "bin" / "python"
    done = subprocess.run([str(python), "-c", CONFORMANCE_SCRIPT], input=json.dumps(cases), capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "collections")})
    assert done.returncode == 0, done.stderr[-3000:]
    pairs = json.loads(done.stdout)
    assert len(pairs) == len(cases)
    for ours, sqlalchemy, as_intended in pairs:
        assert ours == sqlalchemy
        assert as_intended


# ---- Secret form, against the sandbox API server (the cluster double) ----

@pytest.fixture(scope="module")
def sandbox_cluster():
    cluster_module = pytest.importorskip("tests.sandbox.cluster", reason="the sandbox cluster double is not there")
    root = Path(tempfile.mkdtemp(prefix="basic-auth-sandbox-"))
    cluster = cluster_module.SandboxCluster(root, controllers="stand-in").start()
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def read_secret(cluster, namespace: str) -> tuple[bytes, str]:
    secret = cluster.get("secret", "mlflow-auth-config", "-n", namespace)
    return base64.b64decode(secret["data"]["basic-auth.ini"]), secret["metadata"]["resourceVersion"]


def test_secret_is_updated_in_place_only_when_it_changes(sandbox_cluster, work_dir):
    cluster = sandbox_cluster
    namespace = f"bar-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", namespace)
    original = auth_ini_text(OLD_URI, newline="\r\n").encode("utf-8")
    source = work_dir / "basic-auth.ini"
    source.write_bytes(original)
    cluster.kubectl("create", "secret", "generic", "mlflow-auth-config", "-n", namespace,
                    f"--from-file=basic-auth.ini={source}", "--from-literal=other=kept")
    source.unlink()
    env = {"K8S_AUTH_KUBECONFIG": str(cluster.kubeconfig), "TMPDIR": cluster.env["TMPDIR"],
           "HOME": cluster.env["HOME"]}
    args = {"secret": {"name": "mlflow-auth-config", "namespace": namespace}, "uri_host": "pg-cluster-v2-rw",
            "uri_password": NEW_PASSWORD}
    version = read_secret(cluster, namespace)[1]

    preview = run_module(MODULE, args, check=True, diff=True, verbosity=3, env=env)
    assert preview.returncode == 0, preview.stdout[-3000:]
    assert preview.result["changed"] is True
    assert read_secret(cluster, namespace) == (original, version)
    assert "********@pg-cluster-v2-rw" in preview.result["diff"]["after"]

    applied = run_module(MODULE, args, verbosity=3, env=env)
    assert applied.returncode == 0, applied.stdout[-3000:]
    content, new_version = read_secret(cluster, namespace)
    expected_uri = OLD_URI.replace("pg-cluster-v1-rw", "pg-cluster-v2-rw").replace(
        quote(OLD_PASSWORD, safe=""), quote(NEW_PASSWORD, safe=""))
    assert content == auth_ini_text(expected_uri, newline="\r\n").encode("utf-8")
    assert applied.result["checksum"] == hashlib.sha256(content).hexdigest() == preview.result["checksum"]
    assert applied.result["after"]["host"] == "pg-cluster-v2-rw"
    assert new_version != version
    assert cluster.get("secret", "mlflow-auth-config", "-n", namespace)["data"]["other"] == \
        base64.b64encode(b"kept").decode("ascii")

    predicted = run_module(MODULE, args, check=True, env=env)
    again = run_module(MODULE, args, verbosity=3, env=env)
    assert again.returncode == 0
    assert again.result["changed"] is predicted.result["changed"] is False
    assert again.result["checksum"] == applied.result["checksum"]
    assert read_secret(cluster, namespace) == (content, new_version)

    for run in (preview, applied, again):
        assert_no_secret(run, OLD_PASSWORD, NEW_PASSWORD, ADMIN_PASSWORD)
        assert base64.b64encode(content).decode("ascii") not in run.stdout
    # No copy of the ini was left on disk by the run (ansible's temporary files live under HOME and TMPDIR).
    for folder in (Path(env["HOME"]), Path(env["TMPDIR"])):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert b"pg-cluster-v2-rw" not in data and b"admin_password" not in data, path


@pytest.mark.parametrize("secret, message", [
    ({"name": "absent", "namespace": "default"}, "Secret default/absent does not exist"),
    ({"name": "mlflow-auth-config", "namespace": "NAMESPACE", "key": "missing.ini"}, "has no key missing.ini"),
])
def test_secret_errors_are_clear(sandbox_cluster, work_dir, secret, message):
    cluster = sandbox_cluster
    namespace = f"bar-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("create", "secret", "generic", "mlflow-auth-config", "-n", namespace,
                    f"--from-literal=basic-auth.ini={auth_ini_text(OLD_URI)}")
    secret = {key: value.replace("NAMESPACE", namespace) for key, value in secret.items()}
    env = {"K8S_AUTH_KUBECONFIG": str(cluster.kubeconfig), "TMPDIR": cluster.env["TMPDIR"],
           "HOME": cluster.env["HOME"]}
    run = run_module(MODULE, {"secret": secret, "uri_host": "pg-cluster-v2-rw", "uri_password": NEW_PASSWORD}, env=env,
                     verbosity=3)
    assert run.returncode != 0
    assert message in run.result["msg"]
    assert_no_secret(run, OLD_PASSWORD, NEW_PASSWORD, ADMIN_PASSWORD)


def test_module_defaults_of_the_collection_group_give_it_the_cluster(sandbox_cluster, work_dir):
    """basic_auth_rewrite is in meta/runtime.yml's `k8s` action group: the connection settings given once with
    `module_defaults: {group/mlops.mlflow.k8s: ...}` reach it (and with path, they are ignored, not refused)."""
    cluster = sandbox_cluster
    namespace = f"bar-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("create", "secret", "generic", "mlflow-auth-config", "-n", namespace,
                    f"--from-literal=basic-auth.ini={auth_ini_text(OLD_URI)}")
    ini = work_dir / "basic-auth.ini"
    ini.write_text(auth_ini_text(OLD_URI), encoding="utf-8")
    on_secret = {"secret": {"name": "mlflow-auth-config", "namespace": namespace}, "uri_host": "pg-cluster-v3-rw"}
    on_path = {"path": str(ini), "uri_host": "pg-cluster-v3-rw"}
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "module_defaults": {"group/mlops.mlflow.k8s": {"kubeconfig": str(cluster.kubeconfig)}},
             "tasks": [{"name": "secret", "mlops.mlflow.basic_auth_rewrite": on_secret},
                       {"name": "path", "mlops.mlflow.basic_auth_rewrite": on_path}]}]
    playbook = work_dir / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    # No K8S_AUTH_* and a KUBECONFIG that leads nowhere: only module_defaults can tell the module the cluster.
    env = {"KUBECONFIG": str(work_dir / "absent-kubeconfig"), "TMPDIR": cluster.env["TMPDIR"],
           "HOME": cluster.env["HOME"]}
    run = run_playbook(playbook, "-i", "localhost,", env=env)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "@pg-cluster-v3-rw:5432/" in read_secret(cluster, namespace)[0].decode("utf-8")
    assert "@pg-cluster-v3-rw:5432/" in ini.read_text(encoding="utf-8")
