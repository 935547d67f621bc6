"""The local runner of mlflow_migrate (plugins/module_utils/mlflow_migrate_local.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from ansible_collections.mlops.mlflow.plugins.module_utils import mlflow_migrate_runner, mlflow_revisions
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_local import (
    check_python,
    helper_environment,
    helper_program,
    run_local,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_runner import ENV_AUTH_URI, ENV_TRACKING_URI
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import event_line, make_plan

TRACKING_URI = "postgresql://app:s3cret%2Fpw@db:5432/mlflow"
AUTH_URI = "postgresql://app:s3cret%2Fpw@db:5432/mlflow_auth"


def test_helper_program_is_the_revision_logic_followed_by_the_runner():
    program = helper_program()
    compile(program, "<helper>", "exec")
    assert program.startswith(open(mlflow_revisions.__file__, encoding="utf-8").read())
    runner = open(mlflow_migrate_runner.__file__, encoding="utf-8").read()
    assert "def main(argv)" in runner and runner[runner.index("# The helper's inputs"):] in program
    assert program.rstrip().endswith("sys.exit(main(sys.argv))")
    # The target's Python has no ansible_collections: the runner's import of the revision logic is gone.
    assert not any("import" in line and "ansible_collections" in line for line in program.splitlines())


def test_helper_environment_carries_the_uris_and_nothing_else_secret():
    env = helper_environment(TRACKING_URI, None, 7)
    assert env[ENV_TRACKING_URI] == TRACKING_URI and env[ENV_AUTH_URI] == ""
    assert env["MLFLOW_MIGRATE_CONNECT_TIMEOUT"] == "7"


class FakeRunCommand:
    def __init__(self, rc, stdout, stderr=""):
        self.reply = (rc, stdout, stderr)
        self.calls = []

    def __call__(self, args, environ_update=None):
        self.calls.append((args, environ_update))
        return self.reply


def plan_output(tracking_versions, error=None):
    graph = {"a": [], "b": ["a"]}
    target = {"mlflow_version": "3.5.0",
              "tracking": {"graph": graph, "heads": ["b"], "version_table": "alembic_version"},
              "auth": {"graph": {"z": []}, "heads": ["z"], "version_table": "alembic_version"}}
    observed = {"tracking": {"reachable": True, "versions": {"alembic_version": tracking_versions},
                             "tables": ["experiments"]}, "auth": None}
    lines = ["INFO alembic chatter from %s" % TRACKING_URI, event_line({"event": "plan", "plan": make_plan(target, observed)})]
    if error:
        lines.append(event_line(dict(error, event="error")))
    return "\n".join(lines)


def test_run_local_passes_uris_by_environment_only():
    fake = FakeRunCommand(0, plan_output(["a"]))
    result = run_local(fake, "/venv/bin/python", "plan", TRACKING_URI, AUTH_URI, 10)
    args, env = fake.calls[0]
    assert args[0] == "/venv/bin/python" and args[1] == "-c" and args[3] == "plan"
    assert not any("s3cret" in arg for arg in args)
    assert env[ENV_TRACKING_URI] == TRACKING_URI and env[ENV_AUTH_URI] == AUTH_URI
    assert result["status"] == "ok" and result["pending"]["tracking"] == ["b"]
    assert "s3cret" not in result["log_tail"] and "app:********@db" in result["log_tail"]


def test_run_local_turns_a_silent_crash_into_a_failure():
    fake = FakeRunCommand(-9, plan_output(["a"]))
    result = run_local(fake, "/venv/bin/python", "run", TRACKING_URI, None, 10)
    assert result["status"] == "failed" and "-9" in result["msg"]


def test_helper_program_reports_a_python_without_mlflow():
    # The test runner's own Python has no MLflow: the helper must say so as an event, not a traceback.
    env = dict(os.environ, **helper_environment("sqlite:////nonexistent/x.db", None, 3))
    env["PYTHONPATH"] = ""
    proc = subprocess.run([sys.executable, "-c", helper_program(), "plan"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    events = mlflow_revisions.parse_events(proc.stdout)
    assert proc.returncode == 2
    assert events[-1]["event"] == "error" and "MLflow is not importable" in events[-1]["message"]


def test_check_python(tmp_path):
    assert check_python(sys.executable) is None
    assert "does not exist" in check_python(str(tmp_path / "nope"))
    plain = tmp_path / "python"
    plain.write_text("#!/bin/sh\n", encoding="utf-8")
    plain.chmod(0o644)
    assert "not executable" in check_python(str(plain))
