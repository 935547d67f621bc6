"""What the helm CLI prints: release listings, history, status, in table, YAML and JSON forms."""

from __future__ import annotations

import datetime
import json
from typing import Any

import yaml

from ..timestamps import parse


def _parse_time(stamp: str) -> datetime.datetime | None:
    return parse(stamp) if stamp else None


def go_time(stamp: str) -> str:
    """A timestamp as Go's time.String prints it: `2026-11-30 08:06:55.170695667 +0000 UTC`."""
    moment = _parse_time(stamp)
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + "000 +0000 UTC"


def ansic(stamp: str) -> str:
    moment = _parse_time(stamp)
    return moment.strftime("%a %b %d %H:%M:%S %Y") if moment else ""


def chart_ref(summary: dict[str, Any]) -> str:
    return f"{summary.get('chart_name', '')}-{summary.get('chart_version', '')}"


def list_entry(summary: dict[str, Any]) -> dict[str, Any]:
    return {"name": summary["name"], "namespace": summary["namespace"], "revision": str(summary["revision"]),
            "updated": go_time(summary.get("deployed_at", "")), "status": summary["status"],
            "chart": chart_ref(summary), "app_version": summary.get("app_version", "")}


def history_entry(summary: dict[str, Any], description: str) -> dict[str, Any]:
    return {"revision": summary["revision"], "updated": summary.get("deployed_at", ""), "status": summary["status"],
            "chart": chart_ref(summary), "app_version": summary.get("app_version", ""), "description": description}


def dump(data: Any, output: str) -> str:
    if output == "json":
        return json.dumps(data) + "\n"
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "".join("\t".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n" for row in cells)


def release_text(summary: dict[str, Any], description: str, notes: str = "") -> str:
    text = (f"NAME: {summary['name']}\nLAST DEPLOYED: {ansic(summary.get('deployed_at', ''))}\n"
            f"NAMESPACE: {summary['namespace']}\nSTATUS: {summary['status']}\nREVISION: {summary['revision']}\n"
            f"DESCRIPTION: {description}\nTEST SUITE: None\n")
    if notes:
        text += f"NOTES:\n{notes.rstrip()}\n"
    return text
