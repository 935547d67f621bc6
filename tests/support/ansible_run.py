"""Run the collection's modules and playbooks through the real ansible-playbook, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import datetime
from dataclasses import dataclass
from pathlib import Path

import yaml

from .versions import REPO_ROOT

ANSIBLE_PLAYBOOK = REPO_ROOT / ".venv" / "bin" / "ansible-playbook"
# The modules run with the execution environment's Python packages (meta/ee-requirements.txt, at the versions the
# tests pin; `make setup` builds it), as in AWX, not with the tooling of .venv: a module that needs a package the
# execution environment does not declare fails here too. (Also cheaper: each module process imports the kubernetes
# client, and .venv's test tools put kubernetes-validate and jsonschema into that import.)
MODULE_PYTHON = REPO_ROOT / ".cache" / "ee" / "bin" / "python"


def module_interpreter() -> list[str]:
    """ansible-playbook arguments that run the modules with MODULE_PYTHON (over the inventory's
    `ansible_playbook_python`: extra vars win)."""
    if not MODULE_PYTHON.is_file():
        raise FileNotFoundError(f"{MODULE_PYTHON} is missing: run `make setup`")
    return ["-e", f"ansible_python_interpreter={MODULE_PYTHON}"]


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    report: dict | None  # the json callback's document, when the run got that far

    def task_results(self, host: str = "localhost") -> list[dict]:
        """Every task's result for `host`, in order."""
        results = []
        for play in (self.report or {}).get("plays", []):
            for task in play["tasks"]:
                if host in task["hosts"]:
                    results.append(task["hosts"][host])
        return results

    def all_task_results(self) -> list[dict]:
        """Every task's result on every host, in the order the tasks ran (hosts of one task in the report's order)."""
        return [result for play in (self.report or {}).get("plays", []) for task in play["tasks"]
                for result in task["hosts"].values()]

    @property
    def result(self) -> dict:
        """The result of the last task (the module under test)."""
        return self.task_results()[-1]


def changed_tasks(run: PlaybookRun) -> list[str]:
    """Names of the tasks that reported a change."""
    names = []
    for play in (run.report or {}).get("plays", []):
        for task in play["tasks"]:
            if any(result.get("changed") for result in task["hosts"].values()):
                names.append(task["task"]["name"])
    return names


def failure_message(run: PlaybookRun) -> str:
    """The message of the run's last failed task, on whichever installation (inventory host) it failed."""
    for result in reversed(run.all_task_results()):
        if result.get("failed"):
            return result.get("msg", "")
    return ""


def assert_ok(run: PlaybookRun) -> None:
    """A playbook run succeeded; otherwise fail with its own error message (or the end of its output)."""
    assert run.returncode == 0, failure_message(run) or (run.stdout[-3000:] + run.stderr[-2000:])


def ansible_env(extra: dict[str, str] | None = None, json_output: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PYTHON_INTERPRETER": str(MODULE_PYTHON),
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
    })
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    env.update(extra or {})
    return env


def run_playbook(playbook: Path | str, *args: str, env: dict[str, str] | None = None, json_output: bool = True,
                 timeout: float = 1800, cwd: Path | None = None) -> PlaybookRun:
    command = [str(ANSIBLE_PLAYBOOK), *module_interpreter(), str(playbook), *args]
    proc = subprocess.run(command, cwd=cwd or REPO_ROOT, env=ansible_env(env, json_output), capture_output=True,
                          text=True, timeout=timeout, check=False)
    report = _json_report(proc.stdout) if json_output else None
    if report and os.environ.get(TASK_TIMES_ENV):
        _append_task_times(Path(os.environ[TASK_TIMES_ENV]), Path(playbook).name, report)
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, report)


# MLOPS_TESTS_TASK_TIMES=FILE: every playbook run appends one JSON line (playbook, each task's seconds), to find where
# the suite's time goes: `python -m tests.support.task_times FILE` sums them by task.
TASK_TIMES_ENV = "MLOPS_TESTS_TASK_TIMES"


def _append_task_times(path: Path, playbook: str, report: dict) -> None:
    tasks = []
    for play in report.get("plays", []):
        for task in play["tasks"]:
            duration = task["task"].get("duration") or {}
            if duration.get("start") and duration.get("end"):
                tasks.append([task["task"]["name"], _seconds(duration["start"], duration["end"])])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"playbook": playbook, "tasks": tasks}) + "\n")


def _seconds(start: str, end: str) -> float:
    return round((datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(start.rstrip("Z"))).total_seconds(), 2)


def _json_report(stdout: str) -> dict | None:
    """The json callback's document; with -v and more, ansible-playbook prints its own lines before it."""
    start = stdout.find("\n{\n") + 1 if not stdout.startswith("{") else 0
    try:
        return json.loads(stdout[start:])
    except json.JSONDecodeError:
        return None


def run_module(module: str, module_args: dict, check: bool = False, diff: bool = False, verbosity: int = 0,
               env: dict[str, str] | None = None, extra_tasks: list[dict] | None = None,
               json_output: bool = True) -> PlaybookRun:
    """Run one task of `module` on localhost (after `extra_tasks`) and return the run."""
    tasks = list(extra_tasks or []) + [{"name": f"run {module}", module: module_args}]
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    with tempfile.TemporaryDirectory(prefix="mlops-play-") as folder:
        playbook = Path(folder) / "play.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
        args = ["-i", "localhost,"]
        if check:
            args.append("--check")
        if diff:
            args.append("--diff")
        if verbosity:
            args.append("-" + "v" * verbosity)
        return run_playbook(playbook, *args, env=env, json_output=json_output)
