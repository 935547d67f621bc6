"""mlflow_server_info against a real MLflow server with basic auth."""

from tests.support.ansible_run import run_module
from tests.support.mlflow_server import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.versions import NEWEST_MLFLOW


def test_counts_and_version(mlflow_databases, mlflow_server_factory):
    server = mlflow_server_factory(NEWEST_MLFLOW, mlflow_databases["tracking"], mlflow_databases["auth"])
    experiment = server.create_experiment("churn")
    server.log_run(experiment, "a")
    server.log_run(experiment, "b")
    server.log_run(server.create_experiment("holdout"), "c")
    run = run_module("mlops.mlflow.mlflow_server_info", {
        "url": server.url, "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD,
        "expected_version": f"v{NEWEST_MLFLOW}"})
    assert run.returncode == 0, run.stdout
    result = run.result
    assert result["version"] == NEWEST_MLFLOW
    assert result["runs"] == 3
    # One runs/search reads every experiment's runs: each run is counted under its own experiment.
    assert result["runs_per_experiment"] == {"Default": 0, "churn": 2, "holdout": 1}
    assert result["experiments"] == 3
    assert result["newest_run_start_time"].startswith("20")
    assert result["changed"] is False


def test_wrong_version_and_wrong_password_fail_clearly(mlflow_databases, mlflow_server_factory):
    server = mlflow_server_factory(NEWEST_MLFLOW, mlflow_databases["tracking"], mlflow_databases["auth"])
    wrong_version = run_module("mlops.mlflow.mlflow_server_info", {
        "url": server.url, "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "expected_version": "2.22.5",
        "count": False})
    assert wrong_version.returncode != 0
    assert f"runs version {NEWEST_MLFLOW}, expected 2.22.5" in wrong_version.result["msg"]

    secret = "Not-The-Admin-Pass%word"
    denied = run_module("mlops.mlflow.mlflow_server_info", {
        "url": server.url, "username": ADMIN_USERNAME, "password": secret}, verbosity=3)
    assert denied.returncode != 0
    assert "HTTP 401" in denied.result["msg"]
    assert secret not in denied.stdout + denied.stderr


def test_unreachable_server_is_reported():
    run = run_module("mlops.mlflow.mlflow_server_info", {
        "url": "http://127.0.0.1:9", "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "timeout": 3})
    assert run.returncode != 0
    assert "could not be reached" in run.result["msg"]
