"""Small helpers the workload controllers share: owner references, selectors, readiness, generated names."""

from __future__ import annotations

import copy
import random
from typing import Any

from .client import ApiError

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes' generated suffixes


def suffix(length: int = 5) -> str:
    return "".join(random.choice(_NAME_CHARS) for _ in range(length))


def owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def owned_by(obj: dict[str, Any], owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid and ref.get("controller")
               for ref in obj["metadata"].get("ownerReferences") or [])


def selector_string(selector: dict[str, Any] | None) -> str:
    """A label selector object as the query-string form the API accepts."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def pod_ready(pod: dict[str, Any]) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def without_zeros(status: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Counters the API omits when 0 (omitempty), as clients expect."""
    return {k: v for k, v in status.items() if not (k in keys and not v)}


def write_status(client: Any, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any] | None:
    """Write `status` unless unchanged; tolerate the object vanishing or changing meanwhile (next event retries)."""
    if status == obj.get("status"):
        return obj
    try:
        return client.update_status(obj, status)
    except ApiError as error:
        if error.code in (404, 409):
            return None
        raise


def pod_from_template(owner: dict[str, Any], name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Pod named `name` from `owner`'s pod template, controlled by `owner` (extra `labels` added)."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    meta = template.get("metadata") or {}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": owner["metadata"]["namespace"],
                        "labels": dict(meta.get("labels") or {}, **(labels or {})),
                        "ownerReferences": [owner_ref(owner)]},
           "spec": template.get("spec") or {}}
    if meta.get("annotations"):
        pod["metadata"]["annotations"] = meta["annotations"]
    return pod
