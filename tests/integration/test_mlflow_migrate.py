"""mlops.mlflow.mlflow_migrate (local mode) against real PostgreSQL 15 and real MLflow venvs.

The oracles are independent of the module: revisions are read with SQL from the databases, heads and pending
revisions are asked of each MLflow venv's own alembic, and migrated data is read back through a real MLflow server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from urllib.parse import quote

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_local import helper_program
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import outcome, parse_events
from sandbox.runtime.venvs import ensure_mlflow_venv
from tests.support.ansible_run import run_module
from tests.support.mlflow_server import ADMIN_PASSWORD, ADMIN_USERNAME

MODULE = "mlops.mlflow.mlflow_migrate"
DB_PASSWORD = "app-pass%word@1"  # the mlflow_databases fixture's owner password
SECRETS = (DB_PASSWORD, quote(DB_PASSWORD, safe=""))

# Asks an MLflow venv for its heads and for the revisions an upgrade from the current ones would run.
ORACLE = r"""
import json, os, sqlalchemy
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from mlflow.store.db.utils import _get_alembic_config, _get_latest_schema_revision
from mlflow.server.auth.db import utils as auth_utils
tracking = ScriptDirectory.from_config(_get_alembic_config(""))
auth = ScriptDirectory.from_config(auth_utils._get_alembic_config(""))
def pending(script, uri, table):
    if not uri:
        return None
    engine = sqlalchemy.create_engine(uri)
    with engine.connect() as connection:
        current = MigrationContext.configure(connection, opts={"version_table": table}).get_current_heads()
    engine.dispose()
    return sorted(r.revision for r in script.iterate_revisions(script.get_heads(), current or "base"))
print(json.dumps({
    "tracking_head": _get_latest_schema_revision(),
    "auth_head": auth.get_current_head(),
    "tracking_pending": pending(tracking, os.environ.get("TRACKING_URI"), "alembic_version"),
    "auth_pending": pending(auth, os.environ.get("AUTH_URI"), os.environ.get("AUTH_TABLE", "alembic_version")),
}))
"""

# Creates the schemas the way an MLflow server of that version does on first start (tables, then stamp).
INIT_SCHEMAS = r"""
import os, sqlalchemy
from mlflow.store.db.utils import _initialize_tables
from mlflow.server.auth.db.utils import migrate
_initialize_tables(sqlalchemy.create_engine(os.environ["TRACKING_URI"]))
if os.environ.get("AUTH_URI"):
    migrate(sqlalchemy.create_engine(os.environ["AUTH_URI"]), "head")
"""


def python_of(version: str) -> str:
    return str(ensure_mlflow_venv(version) / "bin" / "python")


def run_in_venv(version: str, program: str, **uris: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONWARNINGS": "ignore", **uris}
    proc = subprocess.run([python_of(version), "-c", program], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def oracle(version: str, tracking_uri: str | None = None, auth_uri: str | None = None,
           auth_table: str = "alembic_version") -> dict:
    uris = {key: value for key, value in (("TRACKING_URI", tracking_uri), ("AUTH_URI", auth_uri)) if value}
    return json.loads(run_in_venv(version, ORACLE, AUTH_TABLE=auth_table, **uris).strip().splitlines()[-1])


def init_schemas(version: str, tracking_uri: str, auth_uri: str | None = None) -> None:
    uris = {"TRACKING_URI": tracking_uri}
    if auth_uri:
        uris["AUTH_URI"] = auth_uri
    run_in_venv(version, INIT_SCHEMAS, **uris)


def revisions(pg, dbname: str, table: str = "alembic_version") -> list[str]:
    exists = pg.sql("SELECT to_regclass(%s) IS NOT NULL", (table,), dbname=dbname)[0][0]
    if not exists:
        return []
    return sorted(row[0] for row in pg.sql(f"SELECT version_num FROM {table}", dbname=dbname))


def migrate(databases: dict, version: str, check: bool = False, auth: bool = True, **extra):
    args = {"mode": "local", "backend_store_uri": databases["tracking"], "mlflow_python": python_of(version)}
    if auth:
        args["auth_db_uri"] = databases["auth"]
    args.update(extra)
    run = run_module(MODULE, args, check=check, diff=True)
    for secret in SECRETS:
        assert secret not in run.stdout and secret not in run.stderr, "a database password leaked"
    return run


def test_2_22_5_to_3_17_2_keeps_runs_params_metrics_and_users(pg, mlflow_databases, mlflow_server_factory):
    old = mlflow_server_factory("2.22.5", mlflow_databases["tracking"], mlflow_databases["auth"])
    experiment = old.create_experiment("kept-across-migration")
    logged = {}
    for index in range(3):
        params = {"lr": str(0.1 * (index + 1)), "layers": str(index + 2)}
        metrics = {"loss": 1.0 / (index + 1), "accuracy": 0.5 + index / 10}
        logged[old.log_run(experiment, f"run-{index}", params=params, metrics=metrics)] = (params, metrics)
    user, password = "analyst", "Analyst-pass-2025!"
    old.call("POST", "users/create", json={"username": user, "password": password})
    # An admin still on the password older MLflow shipped: 3.16+ refuses it for admin logins.
    old.call("POST", "users/create", json={"username": "legacy-admin", "password": "password1234"})
    old.call("PATCH", "users/update-admin", json={"username": "legacy-admin", "is_admin": True})
    old.stop()
    tracking_before = revisions(pg, "mlflow")
    auth_before = revisions(pg, "mlflow_auth")
    expected = oracle("3.17.2", mlflow_databases["tracking"], mlflow_databases["auth"], "alembic_version_auth")

    preview = migrate(mlflow_databases, "3.17.2", check=True)
    assert preview.returncode == 0, preview.stdout[-3000:]
    assert preview.result["changed"] is True, "check mode must predict the migration the real run does"
    assert sorted(preview.result["pending"]["tracking"]) == expected["tracking_pending"]
    assert sorted(preview.result["pending"]["auth"]) == [rev for rev in expected["auth_pending"] if rev not in auth_before]
    assert preview.result["tracking"]["before"] == tracking_before[0]
    assert revisions(pg, "mlflow") == tracking_before, "check mode migrated the tracking database"
    assert revisions(pg, "mlflow_auth") == auth_before
    assert revisions(pg, "mlflow_auth", "alembic_version_auth") == []
    named = [re.search(r"admin user\(s\) (.*?) still have", w) for w in preview.result["warnings"]]
    assert [match.group(1) for match in named if match] == ["legacy-admin"]

    run = migrate(mlflow_databases, "3.17.2")
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.result["changed"] is True
    assert run.result["tracking"] == {"before": tracking_before[0], "after": expected["tracking_head"],
                                      "head": expected["tracking_head"]}
    assert run.result["auth"] == {"before": auth_before[0], "after": expected["auth_head"], "head": expected["auth_head"]}
    assert run.result["pending"] == {"tracking": [], "auth": []}
    assert run.result["diff"]["after"] == {"tracking": expected["tracking_head"], "auth": expected["auth_head"]}
    assert revisions(pg, "mlflow") == [expected["tracking_head"]]
    assert revisions(pg, "mlflow_auth", "alembic_version_auth") == [expected["auth_head"]]

    new = mlflow_server_factory("3.17.2", mlflow_databases["tracking"], mlflow_databases["auth"])
    served = {run["info"]["run_id"]: run["data"] for run in new.search_runs(experiment)}
    assert set(served) == set(logged)
    for run_id, (params, metrics) in logged.items():
        assert {p["key"]: p["value"] for p in served[run_id]["params"]} == params
        assert {m["key"]: m["value"] for m in served[run_id]["metrics"]} == pytest.approx(metrics)
    assert new.api("POST", "runs/search", auth=(user, password), json={"experiment_ids": [experiment]}).status_code == 200
    assert new.api("POST", "runs/search", auth=(user, "wrong-password-1"), json={"experiment_ids": [experiment]}).status_code == 401
    assert new.api("GET", "users/get?username=" + user, auth=(ADMIN_USERNAME, ADMIN_PASSWORD)).status_code == 200
    assert new.api("GET", "users/get?username=" + user, auth=("legacy-admin", "password1234")).status_code == 401
    new.stop()

    again = migrate(mlflow_databases, "3.17.2")
    assert again.returncode == 0, again.stdout[-3000:]
    assert again.result["changed"] is False
    assert again.result["tracking"]["before"] == again.result["tracking"]["after"] == expected["tracking_head"]
    assert again.result["pending"] == {"tracking": [], "auth": []}


@pytest.mark.parametrize("target, head_moves", [("3.4.0", False), ("3.5.0", True)])
def test_3_4_0_database_changed_only_when_the_head_moves(pg, mlflow_databases, target, head_moves):
    init_schemas("3.4.0", mlflow_databases["tracking"], mlflow_databases["auth"])
    before = revisions(pg, "mlflow")
    heads = oracle(target)
    assert (before != [heads["tracking_head"]]) is head_moves, "the pinned versions no longer exercise this case"

    preview = migrate(mlflow_databases, target, check=True)
    assert preview.returncode == 0 and preview.result["changed"] is head_moves
    assert revisions(pg, "mlflow") == before, "check mode migrated the tracking database"
    run = migrate(mlflow_databases, target)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.result["changed"] is head_moves is preview.result["changed"]
    assert run.result["tracking"] == {"before": before[0], "after": heads["tracking_head"], "head": heads["tracking_head"]}
    assert run.result["auth"]["before"] == run.result["auth"]["after"] == heads["auth_head"]
    assert revisions(pg, "mlflow") == [heads["tracking_head"]]

    again = migrate(mlflow_databases, target)
    assert again.returncode == 0 and again.result["changed"] is False
    assert migrate(mlflow_databases, target, check=True).result["changed"] is False


def test_refuses_a_database_migrated_by_a_newer_mlflow(pg, mlflow_databases):
    init_schemas("3.17.2", mlflow_databases["tracking"], mlflow_databases["auth"])
    before = revisions(pg, "mlflow")
    run = migrate(mlflow_databases, "2.22.5")
    assert run.returncode != 0
    assert run.result["failed"] is True and run.result["changed"] is False
    assert "does not know" in run.result["msg"] and before[0] in run.result["msg"]
    assert "restore" in run.result["msg"]
    assert run.result["tracking"]["before"] == run.result["tracking"]["after"] == before[0]
    assert revisions(pg, "mlflow") == before


def test_refuses_shared_tracking_and_auth_database_before_3_6(pg, mlflow_databases):
    init_schemas("3.5.0", mlflow_databases["tracking"])
    before = revisions(pg, "mlflow")
    # The same database, reached through another host name: the server's identity gives it away.
    same_by_another_name = mlflow_databases["tracking"].replace("@127.0.0.1:", "@localhost:")
    for auth_uri in (mlflow_databases["tracking"], same_by_another_name):
        run = migrate({"tracking": mlflow_databases["tracking"], "auth": auth_uri}, "3.5.0")
        assert run.returncode != 0
        assert "same database" in run.result["msg"], run.result["msg"]
        assert run.result["changed"] is False
    assert revisions(pg, "mlflow") == before
    assert pg.sql("SELECT to_regclass('users')", dbname="mlflow")[0][0] is None, "auth tables were created"


def test_shared_database_is_accepted_from_3_6(pg, mlflow_databases):
    init_schemas("3.5.0", mlflow_databases["tracking"])
    heads = oracle("3.17.2")
    shared = {"tracking": mlflow_databases["tracking"], "auth": mlflow_databases["tracking"]}
    run = migrate(shared, "3.17.2")
    assert run.returncode == 0, run.result.get("msg")
    assert run.result["tracking"]["after"] == heads["tracking_head"]
    assert revisions(pg, "mlflow") == [heads["tracking_head"]]
    # An empty auth chain is left to the server's first start, with a warning.
    assert run.result["auth"]["after"] is None
    assert any("auth database is empty" in warning for warning in run.result.get("warnings", []))


def test_refuses_an_unreachable_database_without_leaking_the_password(pg, mlflow_databases):
    closed_port = mlflow_databases["auth"].replace(f":{pg.port}/", ":1/")
    init_schemas("3.4.0", mlflow_databases["tracking"])
    before = revisions(pg, "mlflow")
    run = migrate({"tracking": mlflow_databases["tracking"], "auth": closed_port}, "3.5.0", connect_timeout=3)
    assert run.returncode != 0
    assert "Cannot connect" in run.result["msg"] and "auth database" in run.result["msg"]
    assert run.result["changed"] is False
    assert revisions(pg, "mlflow") == before, "the tracking database was migrated although auth was unreachable"


def test_failed_migration_reports_the_revisions_now_and_a_clean_tail(pg, mlflow_databases):
    init_schemas("2.22.5", mlflow_databases["tracking"])
    before = revisions(pg, "mlflow")
    # A table the first 3.x migration creates: PostgreSQL rejects the CREATE and the upgrade fails.
    pg.sql('CREATE TABLE logged_models (id integer)', dbname="mlflow")
    pg.sql('ALTER TABLE logged_models OWNER TO app', dbname="mlflow")
    run = run_module(MODULE, {"backend_store_uri": mlflow_databases["tracking"], "mlflow_python": python_of("3.5.0")},
                     verbosity=3)
    for secret in SECRETS:
        assert secret not in run.stdout and secret not in run.stderr
    assert run.returncode != 0
    result = run.result
    assert "tracking migration failed" in result["msg"]
    assert "logged_models" in result["msg"] + result["log_tail"]
    # PostgreSQL runs the whole upgrade in one transaction: nothing was applied, and the module says so.
    assert result["tracking"]["before"] == result["tracking"]["after"] == before[0]
    assert "No revision was applied" in result["msg"]
    assert revisions(pg, "mlflow") == before
    assert result["changed"] is False


def test_default_python_without_mlflow_fails_clearly(mlflow_databases):
    run = run_module(MODULE, {"backend_store_uri": mlflow_databases["tracking"]})
    assert run.returncode != 0
    assert "MLflow is not importable" in run.result["msg"] and "mlflow_python" in run.result["msg"]


def test_job_options_in_local_mode_are_rejected(mlflow_databases):
    run = run_module(MODULE, {"backend_store_uri": mlflow_databases["tracking"], "image": "mlflow:v3.5.0",
                              "mlflow_python": os.devnull})
    assert run.returncode != 0 and "only apply to mode=job" in run.result["msg"]


def test_job_program_reads_the_auth_uri_from_basic_auth_ini_as_mlflow_does(pg, mlflow_databases, tmp_path):
    """The Job's helper finds the auth database through the mounted basic-auth.ini (a % doubled in the ini)."""
    init_schemas("3.4.0", mlflow_databases["tracking"], mlflow_databases["auth"])
    ini = tmp_path / "basic-auth.ini"
    ini.write_text("[mlflow]\ndatabase_uri = %s\n" % mlflow_databases["auth"].replace("%", "%%"))
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONWARNINGS": "ignore",
           "MLFLOW_MIGRATE_TRACKING_URI": mlflow_databases["tracking"], "MLFLOW_MIGRATE_AUTH_CONFIG": str(ini)}
    proc = subprocess.run([python_of("3.5.0"), "-c", helper_program(), "plan"], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = outcome(parse_events(proc.stdout))
    assert result["auth"]["before"] == oracle("3.4.0")["auth_head"]
    assert result["pending"]["tracking"], "3.4.0 -> 3.5.0 moves the tracking head"
    assert revisions(pg, "mlflow") != [oracle("3.5.0")["tracking_head"]], "plan must not migrate"
