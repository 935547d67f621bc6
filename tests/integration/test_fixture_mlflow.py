"""Each pinned MLflow version serves on PostgreSQL with basic auth; `mlflow db upgrade` moves the schema."""

import pytest
import requests

from tests.support.mlflow_server import mlflow_db_upgrade
from tests.support.versions import MLFLOW_VERSIONS, NEWEST_MLFLOW, OLDEST_MLFLOW


@pytest.mark.parametrize("version", MLFLOW_VERSIONS)
def test_server_serves_health_with_basic_auth(version, mlflow_databases, mlflow_server_factory):
    server = mlflow_server_factory(version, mlflow_databases["tracking"], mlflow_databases["auth"])
    assert requests.get(f"{server.url}/health", timeout=10).text.strip() == "OK"
    assert server.api("GET", "experiments/search?max_results=10", auth=("nobody", "x")).status_code == 401
    experiment = server.create_experiment(f"smoke-{version}")
    server.log_run(experiment, "first", params={"lr": "0.1"}, metrics={"loss": 0.5})
    runs = server.search_runs(experiment)
    assert [run["info"]["run_name"] for run in runs] == ["first"]
    assert server.version_string() == version


def test_db_upgrade_moves_alembic_version(pg, mlflow_databases, mlflow_server_factory):
    old = mlflow_server_factory(OLDEST_MLFLOW, mlflow_databases["tracking"], mlflow_databases["auth"])
    experiment = old.create_experiment("kept")
    old.log_run(experiment, "from-old", metrics={"acc": 0.9})
    old.stop()
    before = pg.sql("SELECT version_num FROM alembic_version", dbname="mlflow")
    mlflow_db_upgrade(NEWEST_MLFLOW, mlflow_databases["tracking"])
    after = pg.sql("SELECT version_num FROM alembic_version", dbname="mlflow")
    assert before != after
    new = mlflow_server_factory(NEWEST_MLFLOW, mlflow_databases["tracking"], mlflow_databases["auth"])
    assert [run["info"]["run_name"] for run in new.search_runs(experiment)] == ["from-old"]
