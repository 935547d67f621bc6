"""What the stand-in controllers can tell about the pods a Deployment or Job would run, without running any, so
that they never report a success a real cluster would not (a Deployment Available, a Job Complete):

- **refused**: the API server would not create the pod (a dry-run create of the pod the ReplicaSet or Job
  controller would create, `generateName` `<rs>-`/`<job>-`): e.g. its ServiceAccount does not exist
  (sandbox/apiserver/admission.py); the message is the API server's, word for word;
- **unpullable**: its image is one the sandbox's kubelet cannot pull (sandbox/runtime/images.py, the same
  decision, without building anything: an MLflow version tag counts as pullable, since only building its venv
  would tell);
- **crashes**: its command fails whatever it runs with, by this narrow rule only: `false`, or a shell
  (`sh`, `bash`, `ash`, `dash`, by path or not) run as `<shell> -c '<script>'` whose whole script is `false` or
  `exit N` with N not 0. Any other command (a script that may fail, a program that exits non-zero, a missing
  Secret, a failing probe) is beyond what a stand-in can know: it is taken to succeed. The real-process
  controllers run the command and know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..runtime import images
from .client import ApiError
from .util import pod_from_template

_SHELLS = {"sh", "bash", "ash", "dash"}
_EXIT = re.compile(r"exit\s+(\d+)")


@dataclass(frozen=True)
class Foreseen:
    """Why the pods would not run to success: `refused`, `unpullable` or `crashes`, with what the cluster would say."""

    outcome: str
    message: str
    exit_code: int = 0


def known_exit_code(container: dict[str, Any]) -> int | None:
    """The non-zero exit code of a container whose command fails by the narrow rule above, else None."""
    argv = [str(part) for part in list(container.get("command") or []) + list(container.get("args") or [])]
    program = argv[0].rsplit("/", 1)[-1] if argv else ""
    if program == "false" and len(argv) == 1:
        return 1
    if program in _SHELLS and len(argv) == 3 and argv[1] == "-c":
        script = argv[2].strip()
        if script == "false":
            return 1
        found = _EXIT.fullmatch(script)
        if found and int(found.group(1)) % 256:
            return int(found.group(1)) % 256
    return None


def foresee(client: Any, owner: dict[str, Any], generate_name: str) -> Foreseen | None:
    """What would keep the pods of `owner`'s template from succeeding, or None when nothing the stand-ins can
    know would."""
    pod = pod_from_template(owner, "")
    del pod["metadata"]["name"]
    pod["metadata"]["generateName"] = generate_name
    try:
        client.create(pod, dry_run=True)
    except ApiError as error:
        return Foreseen("refused", error.message)
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    for container in containers:
        try:
            images.check_pullable(container.get("image", ""), client)
        except images.ImagePullError as error:
            return Foreseen("unpullable", str(error))
    for container in containers:
        code = known_exit_code(container)
        if code is not None:
            return Foreseen("crashes", f"container {container.get('name', '')} exits with {code}", code)
    return None
