"""Run a rendered container's command on this machine, the way a kubelet would start it in a pod.

What a cluster provides is stood in for explicitly, nothing else: the image is an MLflow venv (its bin/ first on
PATH), Secrets are dictionaries, each volume mount is a local folder (paths in the environment are mapped to it),
and `overrides` replace what cluster DNS would resolve (PGHOST/PGPORT of the `<cluster>-rw` Service).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

Secrets = dict[str, dict[str, str]]


def container_env(container: dict[str, Any], secrets: Secrets) -> dict[str, str]:
    """The container's environment: envFrom Secrets first, then env (literal values and secretKeyRefs)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(secrets[source["secretRef"]["name"]])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets[ref["name"]][ref["key"]]
    return env


def _map_path(value: str, mounts: dict[str, Path]) -> str:
    for mount_path, folder in mounts.items():
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(folder) + value[len(mount_path.rstrip("/")):]
    return value


def process_spec(container: dict[str, Any], venv: Path, secrets: Secrets, mounts: dict[str, Path],
                 overrides: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the container's process, with mount paths mapped to their local folders."""
    env = {name: _map_path(value, mounts) for name, value in container_env(container, secrets).items()}
    env.update(overrides or {})
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    env.setdefault("LANG", "C.UTF-8")
    argv = [_map_path(arg, mounts) for arg in container.get("command", []) + container.get("args", [])]
    return argv, env


def run_to_completion(container: dict[str, Any], venv: Path, secrets: Secrets, mounts: dict[str, Path],
                      overrides: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a Job's container once (restartPolicy Never): return its exit status and output."""
    argv, env = process_spec(container, venv, secrets, mounts, overrides)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
