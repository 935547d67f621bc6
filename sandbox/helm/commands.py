"""The helm commands the project's roles and kubernetes.core call, on the real Helm SDK.

Each command takes the parsed arguments and the SDK `Config`, writes what helm writes to stdout, and raises
`CommandError` (printed as `Error: ...`, exit 1) when helm would fail. `version` and `plugin list` are in info.py.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import re
import sys
from pathlib import Path
from typing import Any

import helm_python
import yaml

from . import output, sdk
from .arguments import RELEASE_STATES, CommandError


def _out(text: str) -> None:
    sys.stdout.write(text)


# --- values --------------------------------------------------------------------------------------------------


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of user values: maps merge key by key, anything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def user_values(args) -> dict[str, Any]:
    """-f files in order, then --set-json, --set, --set-string, --set-file, --set-literal (helm's order)."""
    values: dict[str, Any] = {}
    for path in args.values_files:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) if path != "-" else \
                yaml.safe_load(sys.stdin.read())
        except OSError as exc:
            raise CommandError(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}") from exc
        except yaml.YAMLError as exc:
            raise CommandError(f"failed to parse {path}: {exc}") from exc
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise CommandError(f"failed to parse {path}: the values file is not a YAML mapping")
        values = merge_values(values, loaded)
    parsers = (("set_json", helm_python.parse_set_json), ("set", helm_python.parse_set_string),
               ("set_string", helm_python.parse_set_string_values), ("set_file", helm_python.parse_set_file),
               ("set_literal", helm_python.parse_set_literal))
    for attribute, parse in parsers:
        for expression in getattr(args, attribute):
            try:
                values = merge_values(values, parse(expression))
            except helm_python.HelmError as exc:
                raise CommandError(f"failed parsing --{attribute.replace('_', '-')} data: {exc}") from exc
    return values


def _local_chart(args) -> str:
    chart = args.chart
    if getattr(args, "repo", None) or chart.startswith(("oci://", "http://", "https://")):
        raise CommandError(f"chart {chart!r}: the sandbox helm installs local charts only (no chart repositories "
                           "or registries are reachable); pass a chart directory or .tgz")
    if not Path(chart).exists():
        raise CommandError(f"path \"{chart}\" not found")
    return chart


# --- read commands -------------------------------------------------------------------------------------------


def list_releases(args, config) -> int:
    releases = config.list(all_states=True, all_namespaces=args.all_namespaces, name_filter=args.filter)
    wanted = {state for state in RELEASE_STATES if getattr(args, state)}
    if wanted:
        releases = [r for r in releases if r["status"] in wanted or
                    ("pending" in wanted and r["status"].startswith("pending"))]
    releases.sort(key=lambda r: (r["name"], r["namespace"]))
    entries = [output.list_entry(r) for r in releases]
    if args.short:
        _out("".join(f"{e['name']}\n" for e in entries))
    elif args.output in ("yaml", "json"):
        _out(output.dump(entries, args.output))
    else:
        _out(output.table(["NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION"],
                          [[e["name"], e["namespace"], e["revision"], e["updated"], e["status"], e["chart"],
                            e["app_version"]] for e in entries]))
    return 0


def _release_document(config, name: str, revision: int | None) -> dict[str, Any]:
    """A release as `helm status -o json` prints it."""
    everything = config.get_all(name, revision=revision)
    summary, info = everything["summary"], everything.get("info") or {}
    metadata = config.get_metadata(name, revision=revision)
    return {"name": summary["name"], "info": info,
            "chart": {"metadata": {k: metadata[k] for k in ("name", "version", "appVersion") if k in metadata}},
            "config": everything.get("config") or {}, "manifest": summary.get("manifest", ""),
            "hooks": everything.get("hooks") or [], "version": summary["revision"],
            "namespace": summary["namespace"], "apply_method": metadata.get("applyMethod", "")}


def status(args, config) -> int:
    document = _release_document(config, args.name, args.revision)
    if args.output in ("yaml", "json"):
        _out(output.dump(document, args.output))
        return 0
    summary = config.status(args.name, revision=args.revision)
    info = document["info"]
    _out(output.release_text(summary, info.get("description", ""), info.get("notes", "")))
    return 0


def history(args, config) -> int:
    revisions = config.history(args.name, max_revisions=args.max)
    entries = []
    for summary in revisions:
        info = config.get_all(args.name, revision=summary["revision"]).get("info") or {}
        entries.append(output.history_entry(summary, info.get("description", "")))
    if args.output in ("yaml", "json"):
        _out(output.dump(entries, args.output))
    else:
        _out(output.table(["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"],
                          [[e["revision"], output.ansic(e["updated"]), e["status"], e["chart"], e["app_version"],
                            e["description"]] for e in entries]))
    return 0


def get(args, config) -> int:
    what = args.what
    if what == "values":
        values = config.get_values(args.name, all_values=args.all, revision=args.revision)
        if args.output == "json":
            _out(output.dump(values, "json"))
        elif args.output == "yaml":
            _out(output.dump(values, "yaml") if values else "null\n")
        else:
            _out(("COMPUTED VALUES:\n" if args.all else "USER-SUPPLIED VALUES:\n") +
                 (output.dump(values, "yaml") if values else "null\n"))
        return 0
    if what == "manifest":
        _out(config.status(args.name, revision=args.revision).get("manifest", ""))
        return 0
    everything = config.get_all(args.name, revision=args.revision)
    if what == "notes":
        notes = (everything.get("info") or {}).get("notes", "")
        _out(f"NOTES:\n{notes}\n" if notes else "")
        return 0
    if what == "hooks":
        for hook in everything.get("hooks") or []:
            _out(f"---\n# Source: {hook.get('path', '')}\n{hook.get('manifest', '')}\n")
        return 0
    if what == "metadata":
        metadata = config.get_metadata(args.name, revision=args.revision)
        _out(output.dump(metadata, args.output) if args.output in ("yaml", "json") else
             "".join(f"{k.upper()}: {v}\n" for k, v in metadata.items() if not isinstance(v, dict)))
        return 0
    _out(output.dump(_release_document(config, args.name, args.revision), "yaml"))
    return 0


def show(args, _config) -> int:
    chart = _local_chart(args)
    _out(helm_python.show(chart, output_format=args.what))
    return 0


def lint(args, _config) -> int:
    values = user_values(args)
    failures = 0
    for chart in args.charts:
        result = helm_python.lint(chart, values, strict=args.strict)
        _out(f"==> Linting {chart}\n")
        severities = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
        for message in result.get("messages", []):
            _out(f"[{severities.get(message.get('severity'), 'UNKNOWN')}] {message.get('path', '')}: "
                 f"{message.get('error', '')}\n")
        if result.get("errors"):
            failures += 1
    _out(f"\n{len(args.charts)} chart(s) linted, {failures} chart(s) failed\n")
    return 1 if failures else 0


# --- write commands ------------------------------------------------------------------------------------------


def _wait(args) -> str | None:
    """The SDK's wait strategy for `--wait[=watcher|legacy|hookOnly|true|false]`."""
    return {"true": "watcher", "false": None}.get(args.wait, args.wait)


def _deploy_options(args, config_namespace: str | None) -> dict[str, Any]:
    if args.force and getattr(args, "server_side", None) in ("true", "auto"):
        raise CommandError("invalid flag combination: --force cannot be used with --server-side")
    options: dict[str, Any] = {
        "namespace": config_namespace, "timeout_seconds": args.timeout,
        "wait": _wait(args),
        "wait_for_jobs": args.wait_for_jobs,
        "dry_run": {"true": "client", "false": None, "none": None}.get(args.dry_run, args.dry_run),
        "rollback_on_failure": args.atomic or args.rollback_on_failure, "description": args.description,
        "disable_hooks": args.no_hooks, "skip_crds": args.skip_crds, "take_ownership": args.take_ownership,
        "skip_schema_validation": args.skip_schema_validation, "force_conflicts": args.force_conflicts,
        "force_replace": args.force_replace or args.force,
    }
    if args.server_side is not None:
        options["server_side_apply"] = args.server_side
    if args.force:
        options["server_side_apply"] = "false"  # helm 4's --force means the v3 client-side replace
    return options


def _print_deploy(config, summary: dict[str, Any], name: str) -> None:
    info = config.get_all(name).get("info") or {}
    _out(output.release_text(summary, info.get("description", ""), info.get("notes", "")))


def _namespace(args) -> str | None:
    return args.namespace


def _exists(config, name: str) -> bool:
    try:
        history_entries = config.history(name)
    except helm_python.HelmNotFoundError:
        return False
    return bool(history_entries)


def upgrade(args, config) -> int:
    chart = _local_chart(args)
    if args.reset_then_reuse_values and not args.reset_values:
        raise CommandError("--reset-then-reuse-values is not supported by the sandbox helm")
    values = user_values(args)
    options = _deploy_options(args, _namespace(args))
    if not _exists(config, args.name):
        if not args.install:
            raise CommandError(f'"{args.name}" has no deployed releases')
        _out(f'Release "{args.name}" does not exist. Installing it now.\n')
        options.update(create_namespace=args.create_namespace, labels=None)
        summary = sdk.install(config, chart, args.name, values, options)
    else:
        options.update(reset_values=args.reset_values, reuse_values=args.reuse_values and not args.reset_values,
                       cleanup_on_fail=args.cleanup_on_fail, max_history=args.history_max)
        summary = sdk.upgrade(config, chart, args.name, values, options)
        _out(f'Release "{args.name}" has been upgraded. Happy Helming!\n')
    return _report_deploy(config, summary, args.name, options["dry_run"])


def _report_deploy(config, summary: dict, name: str, dry_run) -> int:
    """What `helm install/upgrade` print: the rendered manifest for a dry run, else the release's status."""
    if dry_run:
        _out(output.release_text(summary, "Dry run complete") + f"\nMANIFEST:\n{summary.get('manifest', '')}")
        return 0
    _print_deploy(config, summary, name)
    return 0


def install(args, config) -> int:
    chart = _local_chart(args)
    values = user_values(args)
    options = _deploy_options(args, _namespace(args))
    options.update(create_namespace=args.create_namespace, replace=args.replace)
    summary = sdk.install(config, chart, args.name, values, options)
    return _report_deploy(config, summary, args.name, options["dry_run"])


def rollback(args, config) -> int:
    options = {"version": args.revision or None, "timeout_seconds": args.timeout,
               "wait": _wait(args), "dry_run": "client" if args.dry_run else None,
               "cleanup_on_fail": args.cleanup_on_fail, "max_history": args.history_max,
               "disable_hooks": args.no_hooks}
    sdk.rollback(config, args.name, options)
    _out("Rollback was a success! Happy Helming!\n")
    return 0


def uninstall(args, config) -> int:
    for name in args.names:
        options = {"keep_history": args.keep_history, "timeout_seconds": args.timeout, "wait": _wait(args),
                   "dry_run": args.dry_run, "ignore_not_found": args.ignore_not_found,
                   "disable_hooks": args.no_hooks, "description": args.description,
                   "deletion_propagation": args.cascade}
        sdk.uninstall(config, name, options)
        _out(f'release "{name}" uninstalled\n')
    return 0


def _documents(manifest: str) -> list[tuple[str, str]]:
    """(source template, content) of each document of a rendered manifest (`---\n# Source: <name>\n...`)."""
    found = []
    for document in re.split(r"(?m)^---\n", manifest):
        source = re.match(r"# Source: (.+)\n", document)
        if source:
            found.append((source.group(1), document[source.end():].rstrip("\n")))
    return found


def _write_rendered(folder: str, name: str, content: str, written: set[str]) -> None:
    """pkg/cmd/template.go writeToFile: `<folder>/<source>`, appended to when a template gave several documents."""
    path = Path(folder, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if name in written else "w", encoding="utf-8") as stream:
        stream.write(f"---\n# Source: {name}\n{content}\n")
    written.add(name)
    _out(f"wrote {folder}{os.sep}{name}\n")


def template(args, _config) -> int:
    """`helm template`: the rendered manifest on stdout, or with `--output-dir` one file per template (under
    `<dir>/<release>/` with `--release-name`), CRDs of `crds/` first with `--include-crds`, as Helm's
    pkg/cmd/template.go and action.renderResources do."""
    chart = _local_chart(args)
    values = user_values(args)
    render_config = helm_python.Config(kubeconfig_content=sdk.EMPTY_KUBECONFIG, storage_driver="memory",
                                       namespace=args.namespace or "default")
    try:
        options = {"namespace": args.namespace or "default", "dry_run": "client", "replace": True,
                   "disable_hooks": args.no_hooks, "skip_crds": True,
                   "api_versions": args.api_versions or None, "kube_version": args.kube_version,
                   "skip_schema_validation": args.skip_schema_validation}
        summary = sdk.install(render_config, chart, args.name or "release-name", values, options)
    finally:
        render_config.close()
    crds = [(crd["filename"], crd["data"].rstrip("\n")) for crd in helm_python.Chart.load(chart).crds] \
        if args.include_crds else []
    documents = crds + _documents(summary.get("manifest", ""))
    if args.output_dir:
        written: set[str] = set()
        for name, content in crds:
            _write_rendered(args.output_dir, name, content, written)
        folder = os.path.join(args.output_dir, args.name or "release-name") if args.release_name else args.output_dir
        for name, content in documents[len(crds):]:
            _write_rendered(folder, name, content, written)
        _out("\n")
        return 0
    if args.show_only:
        # Matched as Helm does: the path after the chart's name against each pattern (filepath.Match).
        chosen = []
        for pattern in args.show_only:
            found = [d for d in documents if fnmatch.fnmatchcase(d[0].partition("/")[2], os.path.normpath(pattern))]
            if not found:
                raise CommandError(f"could not find template {pattern} in chart")
            chosen += found
        documents = chosen
    _out("".join(f"---\n# Source: {name}\n{content}\n" for name, content in documents))
    return 0


def package(args, _config) -> int:
    """`helm package`: the chart as `<name>-<version>.tgz` in the destination (pkg/cmd/package.go)."""
    if args.sign:
        raise CommandError("--sign is not supported by the sandbox helm (no keyring)")
    for path in args.charts:
        if not Path(path).is_dir():
            raise CommandError(f"stat {path}: no such file or directory")
        if args.dependency_update:
            helm_python.dependency_update(path)
        archive = helm_python.package(path, destination=args.destination, version=args.chart_version or None,
                                      app_version=args.app_version or None)
        _out(f"Successfully packaged chart and saved it to: {archive}\n")
    return 0


def dependency(args, _config) -> int:
    if args.action == "list":
        for dependency_entry in helm_python.dependency_list(args.chart):
            _out(f"{dependency_entry}\n")
        return 0
    function = helm_python.dependency_update if args.action == "update" else helm_python.dependency_build
    function(args.chart)
    return 0
