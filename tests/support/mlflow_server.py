"""MLflow tracking servers (basic-auth app) on loopback, with the REST client of tests/support/mlflow_client.py."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from sandbox.runtime.network import free_port
from sandbox.runtime.venvs import ensure_mlflow_venv
from sandbox.runtime.waiting import wait_for
from tests.support.mlflow_client import ADMIN_PASSWORD, ADMIN_USERNAME, MlflowClient

FLASK_SECRET_KEY = "mlops-test-flask-secret-key"


def escape_ini_value(value: str) -> str:
    """MLflow reads basic-auth.ini with configparser interpolation: a literal % is written %%."""
    return value.replace("%", "%%")


def write_basic_auth_ini(path: Path, database_uri: str, admin_username: str = ADMIN_USERNAME,
                         admin_password: str = ADMIN_PASSWORD, default_permission: str = "READ") -> Path:
    path.write_text(
        "[mlflow]\n"
        f"default_permission = {default_permission}\n"
        f"database_uri = {escape_ini_value(database_uri)}\n"
        f"admin_username = {admin_username}\n"
        f"admin_password = {escape_ini_value(admin_password)}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def mlflow_db_upgrade(version: str, database_uri: str) -> subprocess.CompletedProcess:
    """`mlflow db upgrade` of the tracking schema with MLflow `version` (the bare command, no wrapper)."""
    venv = ensure_mlflow_venv(version)
    return subprocess.run([str(venv / "bin" / "mlflow"), "db", "upgrade", database_uri], check=True,
                          capture_output=True, text=True, timeout=600)


@dataclass(kw_only=True)
class MlflowServer(MlflowClient):
    """A server this process started (start_mlflow_server), with its REST client."""

    version: str
    process: subprocess.Popen | None = None
    log_file: Path | None = None

    def stop(self) -> None:
        """Stop the whole process group: 2.x leaves gunicorn workers behind otherwise."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-chars:] if self.log_file else ""


def start_mlflow_server(version: str, backend_store_uri: str, auth_ini: Path, workdir: Path,
                        artifacts_destination: str | None = None, extra_env: dict[str, str] | None = None,
                        timeout: float = 120) -> MlflowServer:
    """Start `mlflow server` (basic-auth app, one worker) and wait until /health answers."""
    venv = ensure_mlflow_venv(version)
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    artifacts = artifacts_destination or (workdir / "artifacts").as_uri()
    command = [str(venv / "bin" / "mlflow"), "server", "--backend-store-uri", backend_store_uri,
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--app-name", "basic-auth",
               "--serve-artifacts", "--artifacts-destination", artifacts]
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": FLASK_SECRET_KEY,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **(extra_env or {}),
    }
    log_file = workdir / f"mlflow-{version}-{port}.log"
    with open(log_file, "wb") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = MlflowServer(version=version, process=process, url=f"http://127.0.0.1:{port}", log_file=log_file)

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"MLflow {version} exited with {process.returncode}:\n{server.log_tail()}")
        return requests.get(f"{server.url}/health", timeout=2).status_code == 200

    try:
        wait_for(healthy, timeout, f"MLflow {version} /health on port {port}", interval=0.5)
    except Exception:
        server.stop()
        raise
    return server
