"""Command-line parsing with helm's conventions: global flags anywhere, `-f=FILE` and `--flag=value` forms,
optional flag values (`--wait`, `--wait=watcher`, `--reuse-values=False`), Go durations (`5m0s`)."""

from __future__ import annotations

import argparse
import re

# Global flags: name -> (destination, takes a value).
GLOBAL_FLAGS = {
    "-n": ("namespace", True), "--namespace": ("namespace", True),
    "--kubeconfig": ("kubeconfig", True), "--kube-context": ("kube_context", True),
    "--kube-apiserver": ("kube_apiserver", True), "--kube-token": ("kube_token", True),
    "--kube-ca-file": ("kube_ca_file", True), "--kube-as-user": ("kube_as_user", True),
    "--kube-insecure-skip-tls-verify": ("kube_insecure", False), "--debug": ("debug", False),
    "--burst-limit": ("burst_limit", True), "--qps": ("qps", True),
}


# `helm list`'s state filters (--deployed, --failed, ...).
RELEASE_STATES = ("deployed", "failed", "pending", "superseded", "uninstalled", "uninstalling")

# Flags whose value is optional (pflag's NoOptDefVal): bare, they never take the next word as their value.
OPTIONAL_VALUE_FLAGS = {"--wait": "watcher", "--reuse-values": "true", "--dry-run": "client"}


class UsageError(Exception):
    pass


class CommandError(Exception):
    """A command helm would refuse: printed as `Error: ...`, exit 1."""


def split_globals(argv: list[str]) -> tuple[dict[str, object], list[str]]:
    """Take the global flags out of `argv`, wherever they stand."""
    found: dict[str, object] = {}
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        flag, equals, inline = arg.partition("=")
        if flag in GLOBAL_FLAGS:
            dest, takes_value = GLOBAL_FLAGS[flag]
            if takes_value:
                if equals:
                    found[dest] = inline
                elif index + 1 < len(argv):
                    index += 1
                    found[dest] = argv[index]
                else:
                    raise UsageError(f'flag needs an argument: {flag}')
            else:
                found[dest] = not equals or inline.lower() in ("true", "1")
        elif arg in OPTIONAL_VALUE_FLAGS:
            rest.append(f"{arg}={OPTIONAL_VALUE_FLAGS[arg]}")
        elif re.fullmatch(r"-[a-zA-Z]=.*", arg):
            rest.extend([arg[:2], arg[3:]])  # `-f=values.yaml`, as kubernetes.core writes it
        else:
            rest.append(arg)
        index += 1
    return found, rest


def command_first(argv: list[str]) -> list[str]:
    """Put flags written before the subcommand after it, as cobra reads them: `helm --version=1.2.3 show chart X`
    (what kubernetes.core.helm runs whenever `chart_version` is set) is `helm show --version=1.2.3 chart X`.

    Cobra finds the subcommand by skipping flags (command.go stripFlags): `--flag=value` is one word; `--flag value`
    and `-f value` are two, since before the subcommand a flag is not known to be boolean; the flags are then
    parsed by the subcommand, wherever they stood."""
    leading: list[str] = []
    index = 0
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "--":
        flag = argv[index]
        leading.append(flag)
        index += 1
        takes_next = (flag.startswith("--") and "=" not in flag) or (len(flag) == 2 and flag[0] == "-")
        if takes_next and index < len(argv):
            leading.append(argv[index])
            index += 1
    if not leading or index >= len(argv):
        return argv
    return [argv[index], *leading, *argv[index + 1:]]


def go_duration(text: str) -> int:
    """Seconds in a Go duration (`300s`, `5m0s`, `1h30m`, `90`)."""
    if re.fullmatch(r"\d+", text):
        return int(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UsageError(f'invalid argument "{text}" for "--timeout" flag: time: invalid duration "{text}"')
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return max(1, int(sum(float(n) * scale[u] for n, u in parts)))


def flag_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "t"):
        return True
    if lowered in ("false", "0", "f"):
        return False
    raise argparse.ArgumentTypeError(f'invalid boolean "{text}"')


class Parser(argparse.ArgumentParser):
    """argparse that reports errors as helm does (`Error: ...`, exit 1) instead of exiting 2."""

    def error(self, message: str):
        raise UsageError(message)


def add_values_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--values", action="append", default=[], dest="values_files")
    for flag in ("--set", "--set-string", "--set-json", "--set-file", "--set-literal"):
        parser.add_argument(flag, action="append", default=[], dest=flag[2:].replace("-", "_"))


def add_wait_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", default=None, choices=["watcher", "legacy", "hookOnly", "true", "false"])
    parser.add_argument("--wait-for-jobs", action="store_true")
    parser.add_argument("--timeout", type=go_duration, default=300)
