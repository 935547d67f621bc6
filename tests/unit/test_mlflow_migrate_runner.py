"""The migration helper program's own logic (plugins/module_utils/mlflow_migrate_runner.py), before any MLflow.

What it does with a real MLflow and PostgreSQL is covered by tests/integration/test_mlflow_migrate.py."""

from __future__ import annotations

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils import mlflow_migrate_runner as runner
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import parse_events


def test_auth_uri_is_read_as_mlflow_reads_basic_auth_ini(tmp_path):
    config = tmp_path / "basic_auth.ini"
    config.write_text("[mlflow]\ndatabase_uri = postgresql://app:p%%40ss@db:5432/mlflow_auth\n", encoding="utf-8")
    assert runner.auth_uri_from_config(str(config)) == "postgresql://app:p%40ss@db:5432/mlflow_auth"


def test_an_unreadable_or_incomplete_auth_config_is_a_target_error(tmp_path):
    with pytest.raises(runner.TargetError, match="cannot read the auth config"):
        runner.auth_uri_from_config(str(tmp_path / "missing.ini"))
    config = tmp_path / "basic_auth.ini"
    config.write_text("[mlflow]\nadmin_username = admin\n", encoding="utf-8")
    with pytest.raises(runner.TargetError, match=r"no \[mlflow\] database_uri"):
        runner.auth_uri_from_config(str(config))


def test_short_error_keeps_the_drivers_words_without_the_statement_or_the_password():
    error = Exception('(psycopg2.errors.InsufficientPrivilege) permission denied for table alembic_version\n'
                      'connection to postgresql://app:s3cret@db:5432/mlflow\n'
                      '[SQL: UPDATE alembic_version SET version_num=%(version_num)s]\n'
                      '(Background on this error at: https://sqlalche.me/e/20/f405)')
    message = runner.short_error(error, ["s3cret"])
    assert "permission denied for table alembic_version" in message
    assert "s3cret" not in message and "[SQL" not in message and "Background" not in message


def test_without_a_tracking_uri_the_helper_stops_at_setup(monkeypatch, capsys):
    monkeypatch.delenv(runner.ENV_TRACKING_URI, raising=False)
    monkeypatch.delenv(runner.ENV_AUTH_URI, raising=False)
    monkeypatch.delenv(runner.ENV_AUTH_CONFIG, raising=False)
    assert runner.main(["helper", "run"]) == runner.EXIT_SETUP
    events = parse_events(capsys.readouterr().out)
    assert events == [{"event": "error", "stage": "setup",
                       "message": "no tracking database URI in " + runner.ENV_TRACKING_URI}]


def test_an_auth_config_that_cannot_be_read_stops_at_setup(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(runner.ENV_TRACKING_URI, "postgresql://app:s3cret@db:5432/mlflow")
    monkeypatch.delenv(runner.ENV_AUTH_URI, raising=False)
    monkeypatch.setenv(runner.ENV_AUTH_CONFIG, str(tmp_path / "missing.ini"))
    assert runner.main(["helper", "plan"]) == runner.EXIT_SETUP
    events = parse_events(capsys.readouterr().out)
    assert events[-1]["stage"] == "setup" and "cannot read the auth config" in events[-1]["message"]
