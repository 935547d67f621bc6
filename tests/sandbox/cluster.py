"""A sandbox started for a test session, and the real clients run against it: kubectl, ansible-playbook
(kubernetes.core modules) and the sandbox's helm double.

Each sandbox has its own state folder, port, TMPDIR and HOME, so discovery caches (kubernetes.core's
$TMPDIR/k8srcp-*.json, kubectl's ~/.kube/cache) never leak between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.ansible_run import module_interpreter

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
KUBECTL = "/usr/bin/kubectl"


@dataclass
class SandboxCluster:
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    # "real": processes behind the objects (PostgreSQL, MLflow, builds, S3); "stand-in": status only, faster.
    controllers: str = "real"
    # The sandbox's S3 (`up --s3-scheme`, `--s3-reach`): HTTPS with the sandbox's S3 CA by default; "http" is the
    # lenient setting for flows that cannot pass a CA yet; "in-cluster": a name only pods resolve.
    s3_scheme: str = "https"
    s3_reach: str = "external"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return yaml.safe_load(self.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]

    @property
    def secure_server(self) -> str:
        """The TLS port (kubeconfig context `sandbox-tls`), where clients send their credentials."""
        clusters = yaml.safe_load(self.kubeconfig.read_text())["clusters"]
        return next(c["cluster"]["server"] for c in clusters if c["name"] == "sandbox-tls")

    @property
    def ca_file(self) -> Path:
        """The cluster CA, which signed the TLS port's certificate."""
        return self.state_dir / "tls" / "ca.crt"

    @property
    def admin_token(self) -> str:
        """The kubeconfig user's token (a cluster admin)."""
        return yaml.safe_load(self.kubeconfig.read_text())["users"][0]["user"]["token"]

    def sandbox(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "sandbox", "--state-dir", str(self.state_dir), *args], cwd=REPO_ROOT,
                              env=self.env, capture_output=True, text=True, check=check, timeout=60)

    def start(self) -> SandboxCluster:
        self.root.chmod(0o755)  # the sandbox's PostgreSQL runs as `postgres` under the state folder
        for folder in ("tmp", "home", "playbooks"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, TMPDIR=str(self.root / "tmp"), HOME=str(self.root / "home"))
        self.env.pop("KUBECONFIG", None)
        for name in ("SANDBOX_CONTROLLERS", "SANDBOX_S3_SCHEME", "SANDBOX_S3_REACH"):
            self.env.pop(name, None)
        result = self.sandbox("up", *(["--stand-ins"] if self.controllers == "stand-in" else []),
                              "--s3-scheme", self.s3_scheme, "--s3-reach", self.s3_reach)
        assert result.stdout.strip() == str(self.kubeconfig), result.stderr
        self.env.update(KUBECONFIG=str(self.kubeconfig), K8S_AUTH_KUBECONFIG=str(self.kubeconfig),
                        PATH=f"{self.state_dir / 'bin'}:{self.env['PATH']}", ANSIBLE_NOCOLOR="1",
                        ANSIBLE_FORCE_COLOR="0")
        return self

    def stop(self) -> None:
        self.sandbox("down", check=False)

    # --- clients -----------------------------------------------------------------------------------------------

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([KUBECTL, *args], env=self.env, input=stdin, capture_output=True, text=True,
                                timeout=120, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["helm", *args], env=self.env, capture_output=True, text=True, timeout=300,
                                check=False, cwd=REPO_ROOT)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def playbook(self, tasks: str, env: dict[str, str] | None = None, check: bool = True) -> PlaybookRun:
        """Run `tasks` (YAML, a task list) in a localhost play; results of registered tasks come back as JSON."""
        name = uuid.uuid4().hex[:8]
        path = self.root / "playbooks" / f"{name}.yml"
        results = self.root / "playbooks" / f"{name}.json"
        play = textwrap.dedent("""\
            - name: Sandbox test play
              hosts: localhost
              connection: local
              gather_facts: false
              tasks:
            """) + textwrap.indent(textwrap.dedent(tasks), "    ")
        play += textwrap.indent(textwrap.dedent(f"""\
            - name: Save what the tasks registered
              ansible.builtin.copy:
                dest: {results}
                content: "{{{{ hostvars['localhost'] | dict2items | selectattr('key', 'match', '^r_') | items2dict | to_json }}}}"
                mode: "0600"
            """), "    ")
        path.write_text(play, encoding="utf-8")
        run_env = dict(self.env, **(env or {}))
        command = [str(Path(PYTHON).parent / "ansible-playbook"), "-i", "localhost,", *module_interpreter(),
                   str(path)]
        result = subprocess.run(command,
                                cwd=REPO_ROOT, env=run_env, capture_output=True, text=True, timeout=900, check=False)
        run = PlaybookRun(result.returncode, result.stdout + result.stderr,
                          json.loads(results.read_text()) if results.exists() else {})
        if check and result.returncode != 0:
            raise AssertionError(f"playbook failed ({result.returncode}):\n{run.output[-6000:]}")
        return run


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    registered: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.registered[name]
