# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet is the inventory's installations (one host each) that one playbook run targets.

- `conflicts`: what two installations of a run must never share, because a change to one would then change the
  other: the same release in the same namespace of the same cluster, the same drill namespace there (a drill
  empties it), the same Route URL, the same backup destination for the same server name (CNPG archives every
  cluster's WAL under `<destinationPath>/<serverName>`; a second writer there breaks both recovery windows), the
  same artifact destination.
- `summary`: each installation's outcome of one flow, in the order of the inventory, as rows (JSON for AWX) and as
  lines a person reads at the end of a long run; installations without an outcome were not started.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RESULTS = ("succeeded", "failed", "not started")

# The columns each flow's summary reports besides installation, namespace, result and message.
COLUMNS = {
    "upgrade": ("from", "to", "path", "downtime_seconds"),
    "deploy": ("version",),
    "recovery_drill": ("rto_seconds", "rpo_seconds", "report_file"),
    "backup_check": ("last_backup_age_hours", "continuous_archiving", "first_recoverability_point"),
}


class FleetError(ValueError):
    pass


def _cluster(environment: Mapping) -> str:
    """Which cluster an installation's plays talk to, as far as its inventory says (AWX's OpenShift credential and a
    kubeconfig set these variables; none of them means the control node's default kubeconfig and context)."""
    if environment.get("K8S_AUTH_HOST"):
        return "api %s" % environment["K8S_AUTH_HOST"]
    kubeconfig = environment.get("K8S_AUTH_KUBECONFIG") or environment.get("KUBECONFIG") or "the default kubeconfig"
    context = environment.get("K8S_AUTH_CONTEXT") or "its current context"
    return "%s, %s" % (kubeconfig, context)


def _value(variables: Mapping, name: str) -> Any:
    """A variable of the installation, None when it has none (hostvars answer a missing name with an undefined
    value, not a KeyError: ask first)."""
    return variables.get(name) if name in variables else None


def _text(variables: Mapping, name: str) -> str:
    value = _value(variables, name)
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _claims(variables: Mapping) -> list[str]:
    """What an installation holds alone, read from its playbook inputs (mlflow_*)."""
    values = _mapping(_value(variables, "mlflow_values"))
    cluster = _cluster(_mapping(_value(variables, "mlflow_environment")))
    claims = ["the release %s in namespace %s on %s"
              % (_text(variables, "mlflow_release_name") or "mlflow", _text(variables, "mlflow_namespace"), cluster)]
    drill = _text(variables, "drill_namespace")
    if drill:
        claims.append("the drill namespace %s on %s" % (drill, cluster))
    url = _text(variables, "mlflow_url").rstrip("/").lower()
    if url:
        claims.append("the URL %s" % url)
    backup = _mapping(_mapping(values.get("backup")).get("s3"))
    destination = str(backup.get("destinationPath") or "").rstrip("/")
    if destination:
        server = _mapping(values.get("postgresql")).get("clusterName") or "pg-cluster-v1"  # the chart's serverName
        claims.append("the backup archive %s/%s" % (destination, server))
    artifacts = str(_mapping(_mapping(values.get("mlflow")).get("artifacts")).get("destination") or "").rstrip("/")
    if artifacts:
        claims.append("the artifact store %s" % artifacts)
    return claims


def conflicts(installations: Mapping[str, Mapping]) -> list[str]:
    """What two or more installations share, one sentence each (empty: none). `installations` maps each inventory
    host to its variables (hostvars): mlflow_namespace, mlflow_release_name, mlflow_url, mlflow_values,
    mlflow_environment and drill_namespace."""
    if not isinstance(installations, Mapping):
        raise FleetError("expected installations by host name, got %s" % type(installations).__name__)
    holders: dict[str, list[str]] = {}
    for host, variables in installations.items():
        if not isinstance(variables, Mapping):
            raise FleetError("installation %s: expected its variables as a mapping, got %s"
                             % (host, type(variables).__name__))
        for claim in _claims(variables):
            holders.setdefault(claim, []).append(host)
    return ["%s share %s" % (" and ".join(sorted(hosts)), claim)
            for claim, hosts in holders.items() if len(hosts) > 1]


def summary(flow: str, outcomes: Mapping[str, Any], finished: str = "") -> dict[str, Any]:
    """The fleet summary of `flow` from each installation's outcome (None: the installation was not started)."""
    if not isinstance(outcomes, Mapping):
        raise FleetError("expected outcomes by host name, got %s" % type(outcomes).__name__)
    if flow not in COLUMNS:
        raise FleetError("flow must be one of %s, not %r" % (", ".join(sorted(COLUMNS)), flow))
    rows = []
    for host, outcome in outcomes.items():
        outcome = _mapping(outcome)
        result = outcome.get("result") or "not started"
        if result not in RESULTS:
            raise FleetError("installation %s: result %r is none of %s" % (host, result, ", ".join(RESULTS)))
        row = {"installation": host, "namespace": outcome.get("namespace"), "result": result,
               "message": outcome.get("message") or ("" if result != "not started" else "not started in this run")}
        row.update((column, outcome.get(column)) for column in COLUMNS[flow])
        rows.append(row)
    counts = {result: sum(1 for row in rows if row["result"] == result) for result in RESULTS}
    return {"flow": flow, "finished": finished or None, "installations": len(rows), "counts": counts, "rows": rows,
            "failed": [row["installation"] for row in rows if row["result"] == "failed"],
            "lines": _lines(flow, rows, counts)}


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return "%.1f" % value
    return str(value)


def _lines(flow: str, rows: list[dict], counts: dict[str, int]) -> list[str]:
    headers = ["installation", "namespace", "result", *COLUMNS[flow]]
    table = [headers] + [[_cell(row.get(column)) for column in headers] for row in rows]
    widths = [max(len(line[index]) for line in table) for index in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
    lines.append("%s: %s" % (flow, ", ".join("%d %s" % (counts[result], result) for result in RESULTS)))
    lines += ["%s: %s" % (row["installation"], row["message"]) for row in rows
              if row["result"] != "succeeded" and row["message"]]
    return lines
