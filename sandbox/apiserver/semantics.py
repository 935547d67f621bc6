"""The hand-written rules of built-in kinds that their schemas cannot express, checked on create and update.

Only rules our flows can trip over: a Deployment selector that does not match its template, a Job restart
policy, immutable fields (Deployment/Job selectors, a Job's pod template, immutable Secrets and ConfigMaps, a
Service's cluster IP).
"""

from __future__ import annotations

import json
from typing import Any

from . import errors
from .resources import ResourceType


def _cause(path: str, reason: str, message: str) -> dict[str, str]:
    return {"field": path, "reason": reason, "message": message}


def _go_map(labels: dict[str, str]) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


def _selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def check(resource: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Raise 422 Invalid when `obj` (replacing `old`, if any) breaks a rule."""
    causes: list[dict[str, str]] = []
    kind = (resource.group, resource.kind)
    spec = obj.get("spec") or {}
    old_spec = (old or {}).get("spec") or {}
    if kind in (("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet")):
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        selector = spec.get("selector") or {}
        if selector and not _selector_matches(selector, labels):
            causes.append(_cause("spec.template.metadata.labels", "FieldValueInvalid",
                                 f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`"))
        if old is not None and selector != old_spec.get("selector"):
            causes.append(_cause("spec.selector", "FieldValueInvalid",
                                 f"Invalid value: {json.dumps(selector)}: field is immutable"))
    if kind == ("batch", "Job"):
        policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            causes.append(_cause("spec.template.spec.restartPolicy",
                                 "FieldValueRequired" if not policy else "FieldValueNotSupported",
                                 'Required value: valid values: "OnFailure", "Never"' if not policy else
                                 f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"'))
        if old is not None:
            for field in ("selector", "template", "completions", "completionMode"):
                if spec.get(field) != old_spec.get(field):
                    causes.append(_cause(f"spec.{field}", "FieldValueInvalid", "Invalid value: field is immutable"))
    if kind in (("", "Secret"), ("", "ConfigMap")) and old is not None and old.get("immutable"):
        for field in ("data", "binaryData", "stringData"):
            if obj.get(field) != old.get(field):
                causes.append(_cause(field, "FieldValueForbidden",
                                     "Forbidden: field is immutable when `immutable` is set"))
    if kind == ("", "Service") and old is not None:
        old_ip = old_spec.get("clusterIP")
        if old_ip and spec.get("clusterIP") not in (None, "", old_ip):
            causes.append(_cause("spec.clusterIP", "FieldValueInvalid",
                                 f'Invalid value: "{spec.get("clusterIP")}": field is immutable'))
    if causes:
        raise errors.invalid(resource, obj["metadata"].get("name", ""), causes)
