"""Phases of a playbook run, read from the json callback's task timings.

A phase starts at the first task whose name begins with one of its markers (the roles' phase names: the
include_tasks entries of each role's tasks/main.yml, and a few tasks inside them worth seeing on their own) and
lasts until the next phase starts. Times are seconds from `origin` (a wall-clock epoch).
"""

from __future__ import annotations

import datetime

UPGRADE = (("Preflight", "preflight"), ("Lock", "lock"), ("Backup", "backup"),
           ("Build the new image", "build image"), ("Plan - does the schema change", "plan (dry run)"),
           ("Rolling update", "rolling update"), ("Stop MLflow", "stop"),
           ("Migrate the tracking", "migrate"), ("Start the new version", "start new version"),
           ("Verify", "verify"), ("Unlock", "unlock"))
RECOVERY = (("Preflight", "preflight + plan"), ("Lock", "lock"), ("Stop MLflow", "stop"),
            ("Create the new cluster", "restore + WAL replay + promotion"),
            ("Point basic-auth.ini", "basic-auth.ini"),
            ("Wait for the recovered cluster", "restore + WAL replay + promotion"),
            ("Start MLflow on the recovered", "start MLflow"),
            ("Verify", "verify"), ("Protect the new cluster", "protect new cluster + hibernate old"),
            ("Unlock", "unlock"))
# The task whose end is recover.yml's RTO: MLflow has answered an authenticated call on the recovered data.
RECOVERY_VERIFIED = "Check no run is newer than the target time"
DRILL = (("Preflight", "preflight + plan"), ("Create the throw-away namespace", "namespace + secrets"),
         ("Install the drill release", "restore + WAL replay + promotion"),
         ("Point the drill's basic-auth.ini", "basic-auth.ini"),
         ("Wait for the restored cluster", "restore + WAL replay + promotion"),
         ("Start MLflow on the restored", "start MLflow"),
         ("Find the drill's Route", "verify"), ("Clean up", "clean up"), ("Compose the drill report", "report"))


def epoch(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def task_timings(report: dict) -> list[tuple[str, float, float]]:
    """(task name without its role prefix, start, end) for every task of the run, in order."""
    timings = []
    for play in (report or {}).get("plays", []):
        for task in play.get("tasks", []):
            info = task["task"]
            name = info["name"].split(" : ", 1)[-1]
            duration = info.get("duration") or {}
            results = list(task.get("hosts", {}).values())
            if results and all(result.get("skipped") for result in results):
                continue  # a phase whose condition was false did not happen
            if "start" in duration and "end" in duration:
                timings.append((name, epoch(duration["start"]), epoch(duration["end"])))
    return timings


def phases(report: dict, markers: tuple[tuple[str, str], ...], origin: float) -> list[tuple[str, float, float]]:
    """[(phase, start, end)] in seconds from `origin`; consecutive tasks of one phase are merged."""
    found: list[list] = []
    for name, start, end in task_timings(report):
        label = next((phase for prefix, phase in markers if name.startswith(prefix)), None)
        if label is not None and (not found or found[-1][0] != label):
            found.append([label, start - origin, end - origin])
        elif found:
            found[-1][2] = max(found[-1][2], end - origin)
    return [(label, round(start, 2), round(end, 2)) for label, start, end in found]


def end_of(report: dict, task: str, origin: float) -> float | None:
    """Seconds from `origin` to the end of the last run of the task named `task` (None when it did not run)."""
    ends = [end for name, _start, end in task_timings(report) if name == task]
    return round(ends[-1] - origin, 2) if ends else None


def duration_of(found: list[tuple[str, float, float]], label: str) -> float | None:
    total = sum(end - start for name, start, end in found if name == label)
    return round(total, 2) if any(name == label for name, _start, _end in found) else None
