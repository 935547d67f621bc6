"""Sum the task times MLOPS_TESTS_TASK_TIMES collected (tests/support/ansible_run.py): where the suite's time goes.

    python -m tests.support.task_times FILE [TOP]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def main(path: str, top: int = 40) -> None:
    by_task, by_playbook, runs = Counter(), Counter(), Counter()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        run = json.loads(line)
        runs[run["playbook"]] += 1
        for name, seconds in run["tasks"]:
            by_task[name] += seconds
            by_playbook[run["playbook"]] += seconds
    print("playbook runs and seconds:")
    for playbook, seconds in by_playbook.most_common():
        print(f"  {seconds:8.1f}  {runs[playbook]:3d}x  {playbook}")
    print(f"tasks, top {top}:")
    for name, seconds in by_task.most_common(top):
        print(f"  {seconds:8.1f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(arg) for arg in sys.argv[2:3]))
