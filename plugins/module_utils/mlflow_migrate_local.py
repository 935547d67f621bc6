# -*- coding: utf-8 -*-
# Copyright (c) mlops.mlflow maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run MLflow's migrations through the Python of the TARGET MLflow.

The module itself runs in Ansible's Python, which has no MLflow. It starts the target's Python with the helper
program (``python -c PROGRAM plan|run``): ``mlflow_migrate_runner`` with the revision logic of ``mlflow_revisions``
in place of its import. The helper reads the target's migration graphs and the databases' revisions, plans with the
shared logic, runs the migrations in-process and reports JSON events on stdout. The same program is the command of
the Job in job mode.

Why in-process rather than ``mlflow db upgrade URL`` and ``python -m mlflow.server.auth db upgrade --url URL``: those
take the database URI (with its password) on the command line, visible to every user through ``ps``. The helper
calls the very functions behind those two commands (their click callbacks) with the URI from its environment.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys

from ansible_collections.mlops.mlflow.plugins.module_utils import mlflow_migrate_runner, mlflow_revisions
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_runner import (
    ENV_AUTH_URI,
    ENV_CONNECT_TIMEOUT,
    ENV_TRACKING_URI,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import (
    outcome,
    parse_events,
    sanitise,
    tail,
    uri_secrets,
)


ENTRY_POINT = """

if __name__ == "__main__":
    sys.exit(main(sys.argv))
"""


class MigrationFailed(CollectionError):
    """A migration could not be completed; `result` is the helper's whole outcome (revisions now, log tail)."""

    @classmethod
    def from_outcome(cls, outcome: dict, hint: str = ""):
        known = {key: value for key, value in outcome.items() if key != "msg"}
        return cls(outcome["msg"] + hint, **known)


def helper_program() -> str:
    """The helper program's source: the shared revision logic, then the runner without its import of that logic
    (the target's Python has MLflow, not this collection)."""
    runner = inspect.getsource(mlflow_migrate_runner)
    lines = runner.splitlines(keepends=True)
    for node in ast.parse(runner).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".mlflow_revisions"):
            runner = "".join(lines[:node.lineno - 1] + lines[node.end_lineno:])
            break
    else:
        raise RuntimeError("mlflow_migrate_runner no longer imports mlflow_revisions: helper_program() must change")
    # The entry point is added here: module_utils code must not exit the process (ansible-test's sanity rule).
    return inspect.getsource(mlflow_revisions) + "\n\n" + runner + ENTRY_POINT


def helper_environment(tracking_uri: str, auth_uri: str | None, connect_timeout: int) -> dict:
    """The variables the helper reads; the URIs travel here, never on a command line."""
    return {
        ENV_TRACKING_URI: tracking_uri,
        ENV_AUTH_URI: auth_uri or "",
        ENV_CONNECT_TIMEOUT: str(connect_timeout),
        # MLflow's deprecation warnings would crowd the output tail shown on failure.
        "PYTHONWARNINGS": "ignore",
        "PYTHONUNBUFFERED": "1",
    }


def check_python(python: str) -> str | None:
    """Why `python` cannot be run, or None."""
    if not os.path.isfile(python):
        return "mlflow_python %s does not exist: give the path of a Python that has the target MLflow" % python
    if not os.access(python, os.X_OK):
        return "mlflow_python %s is not executable" % python
    return None


def run_local(run_command, python: str, action: str, tracking_uri: str, auth_uri: str | None,
              connect_timeout: int) -> dict:
    """Run the helper with `run_command` (AnsibleModule.run_command's signature); return `outcome()` plus
    "rc" and a sanitised "log_tail" of what the helper printed besides its events."""
    environment = helper_environment(tracking_uri, auth_uri, connect_timeout)
    rc, stdout, stderr = run_command([python, "-c", helper_program(), action], environ_update=environment)
    result = outcome(parse_events(stdout))
    secrets = uri_secrets(tracking_uri) + uri_secrets(auth_uri)
    noise = "\n".join(line for line in (stdout or "").splitlines() if mlflow_revisions.EVENT_PREFIX not in line)
    result["log_tail"] = sanitise(tail("\n".join(part for part in (stderr, noise) if part)), secrets)
    result["rc"] = rc
    if result["status"] == "ok" and rc != 0:
        result.update(status="failed", msg="The helper program exited with %s before it reported the end of the run: "
                                           "the revisions may have changed; run this task in check mode to read "
                                           "them. See log_tail." % rc)
    return result


def run_local_mode(module) -> dict:
    """The helper in the target MLflow's Python on this node: "plan" in check mode or with plan_only."""
    params = module.params
    python = params["mlflow_python"] or sys.executable
    problem = check_python(python)
    if problem:
        raise MigrationFailed(problem)
    action = "plan" if module.check_mode or params["plan_only"] else "run"
    result = run_local(module.ansible.run_command, python, action, params["backend_store_uri"], params["auth_db_uri"],
                       params["connect_timeout"])
    if result["status"] != "ok":
        raise MigrationFailed.from_outcome(result)
    return result
