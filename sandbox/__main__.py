"""`python -m sandbox up|down|status|env|serve`: start, stop and inspect the local cluster double.

- `up` starts the API server in the background (a new session, so it outlives the shell), writes the kubeconfig,
  the `helm` double and `env.sh` into the state folder, and prints the kubeconfig path;
- `down` stops the process `up` started, by the pid it recorded;
- `status` says whether it runs, where, and how many objects it holds;
- `env` prints the shell exports (`eval "$(.venv/bin/python -m sandbox env)"`);
- `serve` runs the API server in the foreground (what `up` starts).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .files import StateFiles, write_env, write_helm_executable, write_kubeconfig
from .paths import REPO_ROOT, state_dir

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 60.0  # the server stops PostgreSQL (fast shutdown) and MLflow first


def _running_pid(files: StateFiles) -> int | None:
    try:
        pid = int(files.pid.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _port(files: StateFiles, path: Path | None = None) -> int | None:
    try:
        return int((path or files.port).read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def up(args: argparse.Namespace) -> int:
    files = StateFiles(state_dir(args.state_dir))
    files.root.mkdir(parents=True, exist_ok=True)
    pid, port = _running_pid(files), _port(files)
    if pid and port and _healthy(port):
        print(files.kubeconfig)
        print(f"sandbox already running (pid {pid}, http://127.0.0.1:{port})", file=sys.stderr)
        return 0
    files.port.unlink(missing_ok=True)
    command = [sys.executable, "-m", "sandbox", "serve", "--state-dir", str(files.root), "--port", str(args.port)]
    if args.persist:
        command.append("--persist")
    if args.stand_ins:
        command.append("--stand-ins")
    command += ["--s3-scheme", args.s3_scheme, "--s3-reach", args.s3_reach, "--flavour", args.flavour]
    child_env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(files.log, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=child_env,  # pylint: disable=consider-using-with
                                   cwd=REPO_ROOT, start_new_session=True)
    files.pid.write_text(f"{process.pid}\n", encoding="utf-8")
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"the sandbox API server exited with {process.returncode}; see {files.log}", file=sys.stderr)
            files.pid.unlink(missing_ok=True)
            return 1
        port = _port(files)
        if port and _healthy(port):
            write_kubeconfig(files, port, tls_port=_port(files, files.tls_port))
            write_helm_executable(files)
            write_env(files, port, _runtime_info(files))
            print(files.kubeconfig)
            print(f"sandbox running (pid {process.pid}, http://127.0.0.1:{port}); "
                  f"use it with: . {files.env_file}", file=sys.stderr)
            return 0
        time.sleep(0.05)
    print(f"the sandbox API server did not answer within {_START_TIMEOUT:.0f}s; see {files.log}", file=sys.stderr)
    _stop_pid(process.pid)
    files.pid.unlink(missing_ok=True)
    return 1


def _stop_pid(pid: int) -> bool:
    """SIGTERM, then SIGKILL after a grace period. True once the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + _STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            finished = os.waitpid(pid, os.WNOHANG)[0]
            if finished == pid:
                return True
        except ChildProcessError:
            pass  # not our child (started by an earlier `up`): poll with signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def down(args: argparse.Namespace) -> int:
    files = StateFiles(state_dir(args.state_dir))
    pid = _running_pid(files)
    if pid is None:
        print("sandbox not running", file=sys.stderr)
    else:
        _stop_pid(pid)
        print(f"sandbox stopped (pid {pid})", file=sys.stderr)
    # Whatever a server that did not stop cleanly left running (postgres, MLflow, moto): by recorded pid.
    from .runtime.processes import kill_recorded, kill_under  # pylint: disable=import-outside-toplevel
    runtime_dir = files.root / "runtime"
    leftovers = kill_recorded(runtime_dir / "processes") + (kill_under(runtime_dir) if runtime_dir.is_dir() else [])
    if leftovers:
        print(f"stopped processes left behind: {', '.join(leftovers)}", file=sys.stderr)
    files.pid.unlink(missing_ok=True)
    files.port.unlink(missing_ok=True)
    files.tls_port.unlink(missing_ok=True)
    return 0


def status(args: argparse.Namespace) -> int:
    files = StateFiles(state_dir(args.state_dir))
    pid, port = _running_pid(files), _port(files)
    if not pid or not port or not _healthy(port):
        print(json.dumps({"running": False, "state_dir": str(files.root)}))
        return 3
    answer = {"running": True, "pid": pid, "server": f"http://127.0.0.1:{port}",
              "kubeconfig": str(files.kubeconfig), "helm": str(files.helm), "state_dir": str(files.root),
              "log": str(files.log)}
    tls_port = _port(files, files.tls_port)
    if tls_port:  # the TLS port, where clients send their credentials (apiserver/authn.py)
        answer.update(secure_server=f"https://127.0.0.1:{tls_port}", ca=str(files.ca))
    answer.update(_runtime_info(files) or {"controllers": "stand-in"})
    print(json.dumps(answer))
    return 0


def _runtime_info(files: StateFiles) -> dict | None:
    """What the runtime published at start (S3 endpoint, resolver environment), or None with stand-ins."""
    try:
        return json.loads(files.runtime_info.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def print_env(args: argparse.Namespace) -> int:
    files = StateFiles(state_dir(args.state_dir))
    if not files.env_file.is_file():
        print("sandbox not started: run `python -m sandbox up`", file=sys.stderr)
        return 1
    print(files.env_file.read_text(encoding="utf-8"), end="")
    return 0


def serve(args: argparse.Namespace) -> int:
    from .apiserver.server import ApiServer  # pylint: disable=import-outside-toplevel  # keeps `down` light

    files = StateFiles(state_dir(args.state_dir))
    files.root.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    files.runtime_info.unlink(missing_ok=True)
    runtime = None
    if not args.stand_ins:
        from .runtime import Runtime  # pylint: disable=import-outside-toplevel
        runtime = Runtime(files.root, s3_tls=args.s3_scheme == "https", s3_reach=args.s3_reach).start()
    server = ApiServer(args.port, files.snapshot if args.persist else None, runtime=runtime,
                       audit=files.root / "audit.jsonl", tls_dir=files.tls_dir, flavour=args.flavour)
    server.start()
    if runtime is not None:
        files.runtime_info.write_text(json.dumps(dict(runtime.info(), controllers="real")), encoding="utf-8")
    files.tls_port.write_text(f"{server.tls_port}\n", encoding="utf-8")  # before the port: `up` waits on that
    files.port.write_text(f"{server.port}\n", encoding="utf-8")
    logging.getLogger("sandbox").info("serving on http://127.0.0.1:%d and https://127.0.0.1:%d (state in %s)",
                                      server.port, server.tls_port, files.root)
    server.serve_until_signalled()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--state-dir", help="state folder (default: $SANDBOX_STATE_DIR or .sandbox/ at the repo root)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, text in (("up", up, "start in the background and print the kubeconfig path"),
                                ("down", down, "stop what `up` started"),
                                ("status", status, "report whether the sandbox runs (exit 3 when not)"),
                                ("env", print_env, "print shell exports for kubectl, kubernetes.core and helm"),
                                ("serve", serve, "run the API server in the foreground")):
        command = commands.add_parser(name, help=text)
        command.set_defaults(handler=handler)
        if name in ("up", "serve"):
            command.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "0")),
                                 help="port on 127.0.0.1 (default: $SANDBOX_PORT, else a free one)")
            command.add_argument("--persist", action="store_true",
                                 help="snapshot the store to snapshot.json and reload it at the next start")
            command.add_argument("--stand-ins", action="store_true",
                                 default=os.environ.get("SANDBOX_CONTROLLERS") == "stand-in",
                                 help="run the stand-in controllers (status only, no processes, no S3); "
                                      "default: $SANDBOX_CONTROLLERS=stand-in, else real processes")
            command.add_argument("--s3-scheme", choices=("https", "http"),
                                 default=os.environ.get("SANDBOX_S3_SCHEME", "https"),
                                 help="the S3 serves HTTPS with a certificate of the sandbox's S3 CA (bundle: "
                                      "s3-tls/ca.crt), or plain HTTP; default: $SANDBOX_S3_SCHEME, else https")
            command.add_argument("--s3-reach", choices=("external", "in-cluster"),
                                 default=os.environ.get("SANDBOX_S3_REACH", "external"),
                                 help="the S3 endpoint is one the control node reaches (external) or a name only "
                                      "pods resolve (in-cluster); default: $SANDBOX_S3_REACH, else external")
            command.add_argument("--flavour", choices=("openshift", "kubernetes"),
                                 default=os.environ.get("SANDBOX_FLAVOUR", "openshift"),
                                 help="the cluster it stands for: OpenShift (route, build, image, template, project "
                                      "APIs served) or plain Kubernetes (none of them; Ingresses are routed "
                                      "instead); default: $SANDBOX_FLAVOUR, else openshift")
        command.add_argument("--state-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
