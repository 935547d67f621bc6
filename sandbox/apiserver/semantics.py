"""The hand-written rules of built-in kinds that their schemas cannot express, checked on create and update.

Only rules our flows can trip over: a Deployment selector that does not match its template, a Job restart
policy, immutable fields (Deployment/Job selectors, a Job's pod template, immutable Secrets and ConfigMaps, a
Service's cluster IP, a Pod's spec but for the few mutable fields), a CRD's name and scope.
"""

from __future__ import annotations

import json
from typing import Any

from . import crds, errors
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


# pkg/apis/core/validation/validation.go ValidatePodUpdate: the fields an update may change, and its message.
_POD_UPDATE_MESSAGE = ("Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                       "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                       "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
                       "to 1 if it was previously negative)")


def _pod_update_causes(spec: dict[str, Any], old_spec: dict[str, Any]) -> list[dict[str, str]]:
    """ValidatePodUpdate's munging: take the mutable fields from the old spec, then the rest must be equal."""
    munged = json.loads(json.dumps(spec))
    for field in ("containers", "initContainers"):
        new_list, old_list = munged.get(field) or [], old_spec.get(field) or []
        if len(new_list) == len(old_list):
            for new_container, old_container in zip(new_list, old_list):
                if "image" in old_container:
                    new_container["image"] = old_container["image"]
    causes = []
    deadline, old_deadline = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if old_deadline is not None and deadline is None:
        causes.append(_cause("spec.activeDeadlineSeconds", "FieldValueInvalid",
                             "Invalid value: \"null\": must not update from a positive integer to nil value"))
    elif old_deadline is not None and deadline > old_deadline:
        causes.append(_cause("spec.activeDeadlineSeconds", "FieldValueInvalid",
                             f"Invalid value: {deadline}: must be less than or equal to previous value"))
    for field in ("activeDeadlineSeconds", "tolerations"):
        munged.pop(field, None)
        if field in old_spec:
            munged[field] = old_spec[field]
    old_tolerations = old_spec.get("tolerations") or []
    if any(t not in (spec.get("tolerations") or []) for t in old_tolerations):
        causes.append(_cause("spec.tolerations", "FieldValueForbidden",
                             "Forbidden: existing toleration can not be modified except its tolerationSeconds"))
    grace = old_spec.get("terminationGracePeriodSeconds")
    if grace is not None and grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = grace
    if munged != old_spec:
        changed = sorted(k for k in set(munged) | set(old_spec) if munged.get(k) != old_spec.get(k))
        causes.append(_cause("spec", "FieldValueForbidden",
                             _POD_UPDATE_MESSAGE + "\n  changed: " + ", ".join(f"spec.{k}" for k in changed)))
    return causes


def check(resource: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Raise 422 Invalid when `obj` (replacing `old`, if any) breaks a rule."""
    causes: list[dict[str, str]] = []
    kind = (resource.group, resource.kind)
    spec = obj.get("spec") or {}
    old_spec = (old or {}).get("spec") or {}
    if kind in (("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet")):
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
    if kind == ("", "Pod") and old is not None:
        causes += _pod_update_causes(spec, old_spec)
    if kind == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        causes += crds.causes(obj, old)
    if causes:
        raise errors.invalid(resource, obj["metadata"].get("name", ""), causes)
