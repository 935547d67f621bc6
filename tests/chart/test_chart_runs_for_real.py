"""The rendered migrate Job and server container work with real MLflow, PostgreSQL and S3 (moto).

PostgreSQL is switched to password authentication for the app user, so the credentials really come from the
(stand-in) CNPG app Secret through PGUSER/PGPASSWORD, including a password full of URL-special characters.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from sandbox.runtime.network import free_port
from sandbox.runtime.venvs import ensure_mlflow_venv
from sandbox.runtime.waiting import wait_for
from tests.chart.pod_runner import process_spec, run_to_completion
from tests.chart.render import OPENSHIFT_API_VERSIONS, one, render
from tests.support.mlflow_server import ADMIN_PASSWORD, ADMIN_USERNAME, write_basic_auth_ini

APP_USER = "mlflow"
APP_PASSWORD = "p@ss:w/rd%1?#&"  # would break a URI built by string concatenation
ROUTE_HOST = "mlflow-mlflow.apps.cluster.example.com"


def require_passwords(pg) -> None:
    """Only the superuser keeps trust over TCP; the app user must present its password (scram)."""
    hba = pg.data_dir / "pg_hba.conf"
    hba.write_text("local all all trust\n"
                   "host all postgres 127.0.0.1/32 trust\n"
                   "host all all 127.0.0.1/32 scram-sha-256\n", encoding="utf-8")
    pg.sql("SELECT pg_reload_conf()")


@pytest.fixture
def app_databases(pg):
    """What the chart's Cluster and Database resources give: tracking + separate auth DB owned by the app user."""
    pg.create_database("mlflow", owner=APP_USER, password=APP_PASSWORD)
    pg.create_database("mlflow_auth", owner=APP_USER, password=APP_PASSWORD)
    require_passwords(pg)
    return pg


@pytest.fixture
def pod_folders(work_dir: Path) -> dict[str, Path]:
    """Local folders for the pod's volumes, with basic-auth.ini as the mlflow-auth-config Secret holds it."""
    auth, tmp = work_dir / "auth", work_dir / "tmp"
    auth.mkdir()
    tmp.mkdir()
    # host-less URI: host, port and credentials come from the pod's PG* variables, as for the tracking store
    write_basic_auth_ini(auth / "basic-auth.ini", "postgresql+psycopg2:///mlflow_auth")
    return {"/etc/mlflow/auth": auth, "/tmp": tmp}


def tables(pg, dbname: str) -> set[str]:
    return {row[0] for row in pg.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", dbname=dbname)}


def secrets(password: str = APP_PASSWORD, s3_env: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    return {
        "pg-cluster-v1-app": {"username": APP_USER, "password": password},
        "mlflow-flask-secret": {"MLFLOW_FLASK_SERVER_SECRET_KEY": "chart-test-flask-secret"},
        "s3-credentials": s3_env or {},
    }


def migrate_job(version: str) -> dict:
    objects = render({"mlflow": {"image": {"tag": version}}, "migration": {"enabled": True, "runId": "t1"}},
                     OPENSHIFT_API_VERSIONS)
    return one(objects, "Job")["spec"]["template"]["spec"]["containers"][0]


def db_overrides(pg) -> dict[str, str]:
    """Cluster DNS stand-in: the `pg-cluster-v1-rw` Service is the test server on loopback."""
    return {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port)}


@pytest.mark.parametrize("version", ["3.5.0", "2.22.5"])
def test_migrate_job_creates_both_schemas_in_their_own_databases(app_databases, pod_folders, version):
    pg = app_databases
    venv = ensure_mlflow_venv(version)
    result = run_to_completion(migrate_job(version), venv, secrets(), pod_folders, db_overrides(pg))
    assert result.returncode == 0, result.stdout + result.stderr
    tracking, auth = tables(pg, "mlflow"), tables(pg, "mlflow_auth")
    assert {"experiments", "runs", "alembic_version"} <= tracking and "users" not in tracking
    assert {"users", "experiment_permissions"} <= auth and "experiments" not in auth
    assert APP_PASSWORD not in result.stdout + result.stderr

    again = run_to_completion(migrate_job(version), venv, secrets(), pod_folders, db_overrides(pg))
    assert again.returncode == 0, again.stdout + again.stderr  # a re-run on migrated databases is harmless


def head_revision(version: str) -> str:
    python = ensure_mlflow_venv(version) / "bin" / "python"
    code = "from mlflow.store.db.utils import _get_latest_schema_revision as head; print(head())"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_migrate_job_upgrades_a_database_of_the_previous_major_version(app_databases, pod_folders):
    pg = app_databases
    old = run_to_completion(migrate_job("2.22.5"), ensure_mlflow_venv("2.22.5"), secrets(), pod_folders,
                            db_overrides(pg))
    assert old.returncode == 0, old.stdout + old.stderr
    assert pg.sql("SELECT version_num FROM alembic_version", dbname="mlflow") == [(head_revision("2.22.5"),)]

    new = run_to_completion(migrate_job("3.5.0"), ensure_mlflow_venv("3.5.0"), secrets(), pod_folders,
                            db_overrides(pg))
    assert new.returncode == 0, new.stdout + new.stderr
    assert "empty tracking database" not in new.stdout
    assert pg.sql("SELECT version_num FROM alembic_version", dbname="mlflow") == [(head_revision("3.5.0"),)]
    assert head_revision("3.5.0") != head_revision("2.22.5")


@pytest.mark.slow  # MLflow retries the connection for ~100 s before giving up, as the Job would
def test_migrate_job_fails_and_stops_when_the_database_refuses_it(app_databases, pod_folders):
    pg = app_databases
    result = run_to_completion(migrate_job("3.5.0"), ensure_mlflow_venv("3.5.0"), secrets(password="wrong"),
                               pod_folders, db_overrides(pg))
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr
    assert "migrate-db: auth database" not in result.stdout  # set -e: nothing runs after the failed step
    assert tables(pg, "mlflow") == set()


@pytest.mark.slow
def test_server_container_serves_the_route_host_with_basic_auth_and_s3_artifacts(
        app_databases, pod_folders, s3_server, s3_bucket):
    pg = app_databases
    venv = ensure_mlflow_venv("3.5.0")
    assert run_to_completion(migrate_job("3.5.0"), venv, secrets(), pod_folders, db_overrides(pg)).returncode == 0

    port = free_port()
    artifacts = {"destination": f"s3://{s3_bucket}/artifacts", "endpointURL": s3_server.endpoint_url}
    values = {"mlflow": {"port": port, "workers": 1, "artifacts": artifacts}}
    container = one(render(values, OPENSHIFT_API_VERSIONS), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    argv, env = process_spec(container, venv, secrets(s3_env=s3_server.env), pod_folders, db_overrides(pg))
    # a pod has its own network namespace; on this machine the server stays on loopback
    argv = ["--host=127.0.0.1" if arg == "--host=0.0.0.0" else arg for arg in argv]
    log = pod_folders["/tmp"] / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    admin = (ADMIN_USERNAME, ADMIN_PASSWORD)
    try:
        def healthy() -> bool:
            assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
            return requests.get(f"{url}/health", timeout=2).status_code == 200

        wait_for(healthy, 180, "the rendered MLflow server's /health")
        search = f"{url}/api/2.0/mlflow/experiments/search?max_results=5"
        assert requests.get(search, headers={"Host": ROUTE_HOST}, auth=admin, timeout=10).status_code == 200
        assert requests.get(search, headers={"Host": "mlflow.mlflow.svc:5000"}, auth=admin,
                            timeout=10).status_code == 200
        assert requests.get(search, headers={"Host": "attacker.example"}, auth=admin, timeout=10).status_code == 403
        assert requests.get(search, headers={"Host": ROUTE_HOST}, timeout=10).status_code == 401

        upload = requests.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/chart-test/hello.txt", data=b"hello",
                              headers={"Host": ROUTE_HOST}, auth=admin, timeout=30)
        assert upload.status_code == 200, upload.text
        assert s3_server.list_keys(s3_bucket) == ["artifacts/chart-test/hello.txt"]
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                continue
