"""Label and field selectors in their query-string form (`app=web,tier in (a,b),!legacy`, `metadata.name=x`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import errors

Predicate = Callable[[dict[str, Any]], bool]

# Field selectors each kind supports beyond metadata.name and metadata.namespace (as the real registries do).
_FIELD_LABELS = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.phase",
            "status.podIP", "status.nominatedNodeName", "spec.hostNetwork"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
              "reportingComponent", "source", "type"},
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "Job": {"status.successful"},
    "ReplicaSet": {"status.replicas"},
}

_REQUIREMENT = re.compile(
    r"\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_.\-/]+)\s*"
    r"(?:(?P<op>==|!=|=)\s*(?P<value>[A-Za-z0-9_.\-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def label_selector(selector: str | None) -> Predicate:
    if not selector:
        return lambda obj: True
    checks = []
    for part in _split(selector):
        match = _REQUIREMENT.match(part)
        if not match:
            raise errors.bad_request(f"unable to parse requirement: found '{part.strip()}', expected: "
                                     "',', '!=', '==', '=', 'in', 'notin'")
        key, negate = match["key"], bool(match["neg"])
        if match["op"]:
            wanted, equal = match["value"], match["op"] != "!="
            checks.append(lambda labels, k=key, w=wanted, e=equal: (labels.get(k) == w) == e if e
                          else labels.get(k) != w)
        elif match["setop"]:
            values = {v.strip() for v in match["values"].split(",") if v.strip()}
            if match["setop"] == "in":
                checks.append(lambda labels, k=key, vs=values: k in labels and labels[k] in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: k not in labels or labels[k] not in vs)
        else:
            checks.append(lambda labels, k=key, n=negate: (k in labels) != n)

    def matches(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)
    return matches


def _lookup(obj: dict[str, Any], dotted: str) -> str:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def field_selector(selector: str | None, kind: str) -> Predicate:
    if not selector:
        return lambda obj: True
    checks = []
    allowed = {"metadata.name", "metadata.namespace"} | _FIELD_LABELS.get(kind, set())
    for part in _split(selector):
        match = re.match(r"\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not match:
            raise errors.bad_request(f"invalid selector: '{selector}'; can't understand '{part}'")
        field, operator, wanted = match.groups()
        if field not in allowed:
            raise errors.bad_request(f'field label not supported: {field}')
        equal = operator != "!="
        checks.append(lambda obj, f=field, w=wanted, e=equal: (_lookup(obj, f) == w) == e)
    return lambda obj: all(check(obj) for check in checks)
