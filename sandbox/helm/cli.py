"""The `helm` executable of the sandbox: helm's command line over helm-python-sdk (the Helm 4 Go SDK).

Cluster access follows helm: `--kubeconfig`/`KUBECONFIG`, `--kube-context`/`HELM_KUBECONTEXT`,
`-n`/`HELM_NAMESPACE`, `--kube-apiserver`/`HELM_KUBEAPISERVER`, `--kube-token`/`HELM_KUBETOKEN`,
`--kube-ca-file`/`HELM_KUBECAFILE`, `HELM_KUBEINSECURE_SKIP_TLS_VERIFY`, `HELM_DRIVER` (release storage).
"""

from __future__ import annotations

import importlib
import os
import sys

from . import info
from .arguments import (RELEASE_STATES, CommandError, Parser, UsageError, add_values_flags, add_wait_flags,
                        command_first, flag_bool, split_globals)


def _deploy_flags(parser) -> None:
    add_values_flags(parser)
    add_wait_flags(parser)
    parser.add_argument("--atomic", action="store_true")
    parser.add_argument("--rollback-on-failure", action="store_true")
    parser.add_argument("--create-namespace", action="store_true")
    parser.add_argument("--description")
    parser.add_argument("--dry-run", choices=["client", "server", "none", "true", "false"])
    parser.add_argument("--no-hooks", action="store_true")
    parser.add_argument("--skip-crds", action="store_true")
    parser.add_argument("--take-ownership", action="store_true")
    parser.add_argument("--skip-schema-validation", action="store_true")
    parser.add_argument("--server-side", choices=["true", "false", "auto"])
    parser.add_argument("--force-conflicts", action="store_true")
    parser.add_argument("--force-replace", action="store_true")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--version", dest="chart_version")
    parser.add_argument("--repo")
    parser.add_argument("--devel", action="store_true")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true")
    parser.add_argument("--plain-http", action="store_true")
    parser.add_argument("--dependency-update", action="store_true")
    parser.add_argument("--post-renderer")
    parser.add_argument("name")
    parser.add_argument("chart")


def build_parser() -> Parser:
    parser = Parser(prog="helm", add_help=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    version = sub.add_parser("version")
    version.add_argument("--short", action="store_true")
    version.add_argument("--template")
    version.set_defaults(run=info.version, needs_cluster=False)

    listing = sub.add_parser("list", aliases=["ls"])
    listing.add_argument("-o", "--output", default="table", choices=["table", "yaml", "json"])
    listing.add_argument("--filter")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    listing.add_argument("-a", "--all", action="store_true")
    listing.add_argument("-q", "--short", action="store_true")
    for state in RELEASE_STATES:
        listing.add_argument(f"--{state}", action="store_true")
    listing.set_defaults(run="list_releases")

    status = sub.add_parser("status")
    status.add_argument("name")
    status.add_argument("-o", "--output", default="table", choices=["table", "yaml", "json"])
    status.add_argument("--revision", type=int)
    status.add_argument("--show-desc", action="store_true")
    status.set_defaults(run="status")

    history = sub.add_parser("history", aliases=["hist"])
    history.add_argument("name")
    history.add_argument("-o", "--output", default="table", choices=["table", "yaml", "json"])
    history.add_argument("--max", type=int)
    history.set_defaults(run="history")

    get = sub.add_parser("get")
    get.add_argument("what", choices=["values", "manifest", "notes", "hooks", "metadata", "all"])
    get.add_argument("name")
    get.add_argument("-o", "--output", default="table", choices=["table", "yaml", "json"])
    get.add_argument("-a", "--all", action="store_true")
    get.add_argument("--revision", type=int)
    get.set_defaults(run="get")

    show = sub.add_parser("show", aliases=["inspect"])
    show.add_argument("what", choices=["chart", "values", "readme", "crds", "all"])
    show.add_argument("chart")
    show.add_argument("--version", dest="chart_version")
    show.add_argument("--repo")
    show.add_argument("--devel", action="store_true")
    show.add_argument("--insecure-skip-tls-verify", action="store_true")
    show.add_argument("--plain-http", action="store_true")
    show.set_defaults(run="show", needs_cluster=False)

    upgrade = sub.add_parser("upgrade")
    _deploy_flags(upgrade)
    upgrade.add_argument("-i", "--install", action="store_true")
    upgrade.add_argument("--reset-values", action="store_true")
    upgrade.add_argument("--reuse-values", default=False, type=flag_bool)
    upgrade.add_argument("--reset-then-reuse-values", action="store_true")
    upgrade.add_argument("--cleanup-on-fail", action="store_true")
    upgrade.add_argument("--history-max", type=int, default=10)
    upgrade.set_defaults(run="upgrade")

    install = sub.add_parser("install")
    _deploy_flags(install)
    install.add_argument("--replace", action="store_true")
    install.set_defaults(run="install")

    rollback = sub.add_parser("rollback")
    rollback.add_argument("name")
    rollback.add_argument("revision", nargs="?", type=int, default=0)
    add_wait_flags(rollback)
    rollback.add_argument("--dry-run", type=lambda v: v != "false", default=False)
    rollback.add_argument("--cleanup-on-fail", action="store_true")
    rollback.add_argument("--no-hooks", action="store_true")
    rollback.add_argument("--history-max", type=int, default=10)
    rollback.add_argument("--force", action="store_true")
    rollback.set_defaults(run="rollback")

    uninstall = sub.add_parser("uninstall", aliases=["delete", "del", "un"])
    uninstall.add_argument("names", nargs="+")
    add_wait_flags(uninstall)
    uninstall.add_argument("--keep-history", action="store_true")
    uninstall.add_argument("--dry-run", type=lambda v: v != "false", default=False)
    uninstall.add_argument("--ignore-not-found", action="store_true")
    uninstall.add_argument("--no-hooks", action="store_true")
    uninstall.add_argument("--description")
    uninstall.add_argument("--cascade", choices=["background", "orphan", "foreground"])
    uninstall.set_defaults(run="uninstall")

    template = sub.add_parser("template")
    add_values_flags(template)
    template.add_argument("name", nargs="?")
    template.add_argument("chart")
    template.add_argument("--api-versions", "-a", action="append", default=[])
    template.add_argument("--kube-version")
    template.add_argument("--include-crds", action="store_true")
    template.add_argument("--skip-crds", action="store_true")
    template.add_argument("--no-hooks", action="store_true")
    template.add_argument("--skip-tests", action="store_true")
    template.add_argument("--skip-schema-validation", action="store_true")
    template.add_argument("-s", "--show-only", action="append", default=[])
    template.add_argument("--version", dest="chart_version")
    template.add_argument("--repo")
    template.add_argument("--dependency-update", action="store_true")
    template.add_argument("--output-dir")
    template.add_argument("--release-name", action="store_true")
    template.set_defaults(run="template", needs_cluster=False)

    package = sub.add_parser("package")
    package.add_argument("charts", nargs="+")
    package.add_argument("-d", "--destination", default=".")
    package.add_argument("--version", dest="chart_version")
    package.add_argument("--app-version")
    package.add_argument("-u", "--dependency-update", action="store_true")
    package.add_argument("--sign", action="store_true")
    package.set_defaults(run="package", needs_cluster=False)

    lint = sub.add_parser("lint")
    add_values_flags(lint)
    lint.add_argument("charts", nargs="*", default=["."])
    lint.add_argument("--strict", action="store_true")
    lint.set_defaults(run="lint", needs_cluster=False)

    plugin = sub.add_parser("plugin")
    plugin.add_argument("action")
    plugin.add_argument("rest", nargs="*")
    plugin.set_defaults(run=info.plugin, needs_cluster=False)

    dependency = sub.add_parser("dependency", aliases=["dep", "dependencies"])
    dependency.add_argument("action", choices=["list", "update", "build"])
    dependency.add_argument("chart", nargs="?", default=".")
    dependency.set_defaults(run="dependency", needs_cluster=False)
    return parser


def make_config(options: dict[str, object]):
    """The SDK's `Config` (helm_python, imported by the commands that need the SDK)."""
    import helm_python  # pylint: disable=import-outside-toplevel
    env = os.environ
    insecure = options.get("kube_insecure") or env.get("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "").lower() == "true"
    return helm_python.Config(
        kubeconfig_path=options.get("kubeconfig") or None,
        kube_context=options.get("kube_context") or env.get("HELM_KUBECONTEXT") or None,
        kube_token=options.get("kube_token") or env.get("HELM_KUBETOKEN") or None,
        kube_apiserver=options.get("kube_apiserver") or env.get("HELM_KUBEAPISERVER") or None,
        kube_ca_file=options.get("kube_ca_file") or env.get("HELM_KUBECAFILE") or None,
        kube_insecure_skip_tls_verify=bool(insecure),
        kube_as_user=options.get("kube_as_user") or env.get("HELM_KUBEASUSER") or None,
        namespace=options.get("namespace") or None,
        storage_driver=env.get("HELM_DRIVER") or None,
    )


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """The SDK's errors, once a command has loaded it (`version` and `plugin list` do not)."""
    module = sys.modules.get("helm_python")
    return (module.HelmError,) if module is not None else ()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        global_options, rest = split_globals(argv)
        if not global_options.get("namespace") and os.environ.get("HELM_NAMESPACE"):
            global_options["namespace"] = os.environ["HELM_NAMESPACE"]
        args = build_parser().parse_args(command_first(rest))
        args.namespace = global_options.get("namespace")
        args.all_namespaces = getattr(args, "all_namespaces", False)
        if getattr(args, "post_renderer", None):
            raise CommandError("--post-renderer is not supported by the sandbox helm")
        run = args.run
        if isinstance(run, str):  # a command on the Helm SDK (commands.py): its import loads the SDK
            run = getattr(importlib.import_module(".commands", __package__), run)
        if not getattr(args, "needs_cluster", True):
            return run(args, None)
        with make_config(global_options) as config:
            return run(args, config)
    except UsageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except (CommandError, *_sdk_errors()) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
