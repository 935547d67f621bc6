"""Server-side apply and `metadata.managedFields`, after structured-merge-diff's rules.

- Every write records who set which fields: `Update` entries for create/update/patch, `Apply` entries for
  server-side apply, one per (manager, operation, subresource).
- An apply merges the applied configuration into the live object (keyed lists by key, set lists as sets, atomic
  lists and scalars replaced), removes fields the manager applied before but no longer applies (unless another
  manager owns them), and refuses to change a field another manager owns to a different value (409 Conflict)
  unless `force=true`, which takes ownership instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import errors
from .fieldsets import (
    Path, element_identity, fieldset, fill_key_defaults, format_path, from_fields_v1, get_at, is_marker, ownable, remove_at, to_fields_v1,
)
from .resources import ResourceType
from .schemas import ANY, Node, root_node


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    subresource: str
    fields: set[Path]

    def same_owner(self, other: Entry) -> bool:
        return (self.manager, self.operation, self.subresource) == (other.manager, other.operation, other.subresource)

    def to_api(self) -> dict[str, Any]:
        entry = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                 "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(self.fields)}
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def read_entries(obj: dict[str, Any] | None) -> list[Entry]:
    entries = []
    for raw in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        entries.append(Entry(raw.get("manager", ""), raw.get("operation", "Update"), raw.get("apiVersion", ""),
                             raw.get("time", ""), raw.get("subresource", ""),
                             from_fields_v1(raw.get("fieldsV1") or {})))
    return entries


def _write_entries(obj: dict[str, Any], entries: list[Entry]) -> None:
    kept = [e for e in entries if e.fields]
    if kept:
        obj["metadata"]["managedFields"] = [e.to_api() for e in kept]
    else:
        obj["metadata"].pop("managedFields", None)


def _prune(entries: list[Entry], obj: dict[str, Any]) -> None:
    """Drop ownership of fields that no longer exist."""
    for entry in entries:
        entry.fields = {path for path in entry.fields if get_at(obj, path)[0]}


def _node(resource: ResourceType) -> Node:
    return root_node(resource.schema_node())


def _with_status(resource: ResourceType, subresource: str) -> bool:
    return subresource == "status" or "status" not in resource.subresources


def record_update(resource: ResourceType, old: dict[str, Any] | None, new: dict[str, Any], manager: str,
                  subresource: str, now: str) -> None:
    """Give `manager` the fields this create/update/patch set or changed; others lose them."""
    node = _node(resource)
    with_status = _with_status(resource, subresource)
    new_view = ownable(new, with_status)
    old_view = ownable(old, with_status) if old else {}
    changed = {path for path in fieldset(new_view, node)
               if not is_marker(path) and get_at(old_view, path) != get_at(new_view, path)
               or is_marker(path) and not get_at(old_view, path)[0]}
    entries = read_entries(old) if old else []
    if old is None:
        # The client's managedFields on create are honoured only when it sends them (kubectl --server-side
        # migration); otherwise the creator owns what it set.
        entries = read_entries(new)
    mine = Entry(manager, "Update", resource.api_version, now, subresource,
                 set())
    existing = None
    for entry in entries:
        if entry.same_owner(mine):
            existing = entry
        else:
            entry.fields -= changed
    if existing is not None:
        # Entries keep their place: a write that changes nothing must leave managedFields as they were.
        existing.fields |= changed
        if changed:
            existing.time, existing.api_version = now, resource.api_version
    elif changed:
        mine.fields = changed
        entries.append(mine)
    _prune(entries, ownable(new, True))
    _write_entries(new, entries)


def apply(resource: ResourceType, live: dict[str, Any] | None, applied: dict[str, Any], manager: str,
          force: bool, subresource: str, now: str) -> dict[str, Any]:
    """The object after `manager` applies `applied` to `live` (None when it does not exist yet)."""
    node = _node(resource)
    with_status = _with_status(resource, subresource)
    applied_view = fill_key_defaults(ownable(applied, with_status), node)
    if subresource == "status":
        applied_view = {"status": applied_view["status"]} if "status" in applied_view else {}
    applied_set = fieldset(applied_view, node)
    entries = read_entries(live)
    mine = Entry(manager, "Apply", resource.api_version, now, subresource if subresource == "status" else "",
                 set())
    previous: set[Path] = set()
    for entry in entries:
        if entry.same_owner(mine):
            previous = entry.fields
    others = [e for e in entries if not e.same_owner(mine)]
    live_view = ownable(live, True) if live else {}

    conflicts: list[tuple[Entry, Path]] = []
    for entry in others:
        for path in entry.fields & applied_set:
            if is_marker(path):
                continue
            if get_at(live_view, path) != get_at(applied_view, path):
                conflicts.append((entry, path))
    if conflicts and not force:
        raise _conflict_error(resource, (applied.get("metadata") or {}).get("name", ""), conflicts)
    for entry, path in conflicts:
        entry.fields.discard(path)

    result = copy.deepcopy(live) if live else {
        "apiVersion": applied.get("apiVersion"), "kind": applied.get("kind"),
        "metadata": {k: v for k, v in (applied.get("metadata") or {}).items() if k in ("name", "namespace")}}
    owned_by_others = set().union(*(e.fields for e in others)) if others else set()
    for path in sorted(previous - applied_set, key=len, reverse=True):
        if any(other[:len(path)] == path for other in owned_by_others):
            continue
        remove_at(result, path)
        _remove_empty_parents(result, path, owned_by_others | applied_set)
    for key, value in applied_view.items():
        result[key] = _merge(result.get(key), value, node.child(key) or ANY)
    mine.fields = applied_set
    if any(e.same_owner(mine) for e in entries):
        entries = [mine if e.same_owner(mine) else e for e in entries]
    else:
        entries = others + [mine]
    _prune(entries, ownable(result, True))
    _write_entries(result, entries)
    return result


def _remove_empty_parents(obj: dict[str, Any], path: Path, owned: set[Path]) -> None:
    for length in range(len(path) - 1, 0, -1):
        parent = path[:length]
        found, value = get_at(obj, parent)
        if found and value in ({}, []) and parent not in owned and parent[-1][0] == "f":
            remove_at(obj, parent)
        else:
            return


def _merge(live: Any, applied: Any, node: Node) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict):
        result = dict(live)
        for key, value in applied.items():
            result[key] = _merge(live.get(key), value, node.child(key) or ANY)
        return result
    if isinstance(live, list) and isinstance(applied, list):
        kind, keys = node.list_type(), node.map_keys()
        if kind == "map" and keys and all(isinstance(i, dict) for i in live + applied):
            items = node.items()
            result = list(live)
            for item in applied:
                ident = element_identity(item, keys, items)
                index = next((i for i, existing in enumerate(result)
                              if element_identity(existing, keys, items) == ident), None)
                if index is None:
                    result.append(copy.deepcopy(item))
                else:
                    result[index] = _merge(result[index], item, items)
            return result
        if kind == "set":
            return list(live) + [copy.deepcopy(i) for i in applied if i not in live]
    return copy.deepcopy(applied)


def _conflict_error(resource: ResourceType, name: str, conflicts: list[tuple[Entry, Path]]) -> errors.ApiError:
    causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{entry.manager}"'
               + (f' with subresource "{entry.subresource}"' if entry.subresource else "")
               + f" using {entry.api_version}", "field": format_path(path)} for entry, path in conflicts]
    count = len(conflicts)
    if count == 1:
        head = f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}"
    else:
        managers = sorted({entry.manager for entry, _ in conflicts})
        head = f"Apply failed with {count} conflicts: conflicts with " + ", ".join(f'"{m}"' for m in managers) + \
            ":\n" + "\n".join(f"- {c['field']}" for c in causes)
    details = {"name": name, "kind": resource.plural, "causes": causes}
    if resource.group:
        details["group"] = resource.group
    return errors.ApiError(409, "Conflict", head, details)
