"""The other forms of an answer a client may ask for in its Accept header (`application/json;as=...;g=meta.k8s.io;
v=v1`):

- `Table` (server-side printing, what `kubectl get` asks for): Name, the kind's printer columns (a CRD's
  `additionalPrinterColumns`, a few chosen ones for built-ins), Age. Only simple `.a.b.c` JSON paths are evaluated;
- `PartialObjectMetadata` / `PartialObjectMetadataList`: the objects' metadata only (metadata informers,
  kubernetes.core `k8s_info` with `metadata_only`), as the API server's handlers/response.go transforms them. A
  client offering only the form that does not fit (the list form for one object) gets the full object.
"""

from __future__ import annotations

import re
from typing import Any

from ..timestamps import seconds_since
from .resources import ResourceType


def wants_table(accept: str) -> bool:
    return "as=Table" in (accept or "")


def wants_partial(accept: str, listing: bool) -> bool:
    """Whether the Accept header asks for PartialObjectMetadata (one object) or ...List (a list, a watch's events
    being single objects)."""
    for media in (accept or "").split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in media.split(";")[1:])}
        if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1") and \
                params.get("as") == ("PartialObjectMetadataList" if listing else "PartialObjectMetadata"):
            return True
    return False


def partial_list(items: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version}, "items": [partial(item) for item in items]}


_STEP = re.compile(r'\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_]+)=="([^"]*)"\)\]')


def _dig(obj: dict[str, Any], path: str) -> Any:
    """Evaluate the JSONPath subset printer columns use: `.a.b`, `[0]`, `[?(@.type=="Ready")]`."""
    value: Any = obj
    position = 0
    while position < len(path) and value is not None:
        match = _STEP.match(path, position)
        if match is None:
            return None
        field, index, key, wanted = match.groups()
        if field is not None:
            value = value.get(field) if isinstance(value, dict) else None
        elif index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            value = next((item for item in value if isinstance(item, dict) and str(item.get(key)) == wanted),
                         None) if isinstance(value, list) else None
        position = match.end()
    return value


def human_duration(seconds: float) -> str:
    """Ages as the API server prints them (apimachinery's HumanDuration)."""
    seconds = int(max(seconds, 0))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"


def _age(stamp: str) -> str:
    if not stamp:
        return "<unknown>"
    return human_duration(seconds_since(stamp))


def partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def _has_age(resource: ResourceType) -> bool:
    """Age closes every table but those that print the creation time themselves (CRDs: NAME, CREATED AT)."""
    return not any(c.json_path == ".metadata.creationTimestamp" for c in resource.printer_columns)


def _row(resource: ResourceType, obj: dict[str, Any], include_object: str) -> dict[str, Any]:
    cells: list[Any] = [obj["metadata"]["name"]]
    for column in resource.printer_columns:
        value = _dig(obj, column.json_path)
        cells.append(value if value is not None else ("<none>" if column.type == "string" else 0))
    if _has_age(resource):
        cells.append(_age(obj["metadata"].get("creationTimestamp", "")))
    row_object = obj if include_object == "Object" else partial(obj)
    return {"cells": cells, "object": row_object}


def table(resource: ResourceType, items: list[dict[str, Any]], resource_version: str,
          include_object: str = "Metadata") -> dict[str, Any]:
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    columns += [{"name": c.name, "type": c.type, "format": "", "description": c.name, "priority": 0}
                for c in resource.printer_columns]
    if _has_age(resource):
        columns.append({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": columns, "rows": [_row(resource, item, include_object) for item in items]}
