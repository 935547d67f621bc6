"""Field sets, the unit of ownership in server-side apply, and their `FieldsV1` wire form.

A field set is a set of paths. A path is a tuple of steps: `("f", name)` a field, `("k", '{"name":"app"}')` an
element of a list keyed by its map keys, `("v", '"value"')` an element of a set list. Atomic lists and scalars are
leaves; a keyed element's own path is in the set too (FieldsV1 writes it as `".": {}`).
"""

from __future__ import annotations

import json
from typing import Any

from .schemas import ANY, Node

Path = tuple[tuple[str, str], ...]

# Fields that identify an object or are set by the server: never owned by a manager.
_UNOWNED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def element_identity(item: dict[str, Any], keys: list[str], items: Node) -> dict[str, Any]:
    """The key fields of a keyed-list element, with schema defaults for the ones it leaves out."""
    identity = {}
    for key in keys:
        if key in item:
            identity[key] = item[key]
        else:
            child = items.child(key)
            has_default, default = child.default() if child is not None else (False, None)
            if has_default:
                identity[key] = default
    return identity


def fill_key_defaults(value: Any, node: Node) -> Any:
    """`value` with defaulted key fields written into keyed-list elements (an applied `ports` entry without a
    protocol is the TCP entry), so that paths resolve the same way in applied and live objects."""
    if isinstance(value, dict):
        return {k: fill_key_defaults(v, node.child(k) or ANY) for k, v in value.items()}
    if isinstance(value, list):
        keys = node.map_keys() if node.list_type() == "map" else []
        items = node.items()
        out = []
        for item in value:
            item = fill_key_defaults(item, items)
            if keys and isinstance(item, dict):
                item = {**element_identity(item, keys, items), **item}
            out.append(item)
        return out
    return value


def element_key(item: dict[str, Any], keys: list[str], items: Node) -> str:
    return _compact(element_identity(item, keys, items))


def ownable(obj: dict[str, Any], with_status: bool) -> dict[str, Any]:
    """The part of an object whose fields managers own."""
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind") and (with_status or k != "status")}
    if "metadata" in out:
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k not in _UNOWNED_META}
        if not out["metadata"]:
            del out["metadata"]
    return out


def fieldset(value: Any, node: Node, prefix: Path = ()) -> set[Path]:
    found: set[Path] = set()
    _collect(value, node, prefix, found)
    return found


def _collect(value: Any, node: Node, prefix: Path, found: set[Path]) -> None:
    if isinstance(value, dict):
        if not value and prefix:
            found.add(prefix)
        for key, item in value.items():
            _collect(item, node.child(key) or ANY, prefix + (("f", key),), found)
        return
    if isinstance(value, list):
        kind = node.list_type()
        keys = node.map_keys()
        if kind == "map" and keys and all(isinstance(item, dict) for item in value):
            items = node.items()
            for item in value:
                element = prefix + (("k", element_key(item, keys, items)),)
                found.add(element)
                for key, sub in item.items():
                    _collect(sub, items.child(key) or ANY, element + (("f", key),), found)
            return
        if kind == "set" and all(not isinstance(item, (dict, list)) for item in value):
            for item in value:
                found.add(prefix + (("v", _compact(item)),))
            return
    found.add(prefix)


def get_at(obj: Any, path: Path) -> tuple[bool, Any]:
    """The value at `path`, and whether it exists."""
    current = obj
    for step, name in path:
        if step == "f":
            if not isinstance(current, dict) or name not in current:
                return False, None
            current = current[name]
        elif step == "k":
            wanted = json.loads(name)
            if not isinstance(current, list):
                return False, None
            match = [item for item in current
                     if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items())]
            if not match:
                return False, None
            current = match[0]
        else:
            wanted = json.loads(name)
            if not isinstance(current, list) or wanted not in current:
                return False, None
            current = wanted
    return True, current


def remove_at(obj: Any, path: Path) -> None:
    """Delete the value at `path` (a field, a keyed element or a set element); no-op when absent."""
    if not path:
        return
    found, parent = get_at(obj, path[:-1])
    if not found:
        return
    step, name = path[-1]
    if step == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif step == "k" and isinstance(parent, list):
        wanted = json.loads(name)
        parent[:] = [item for item in parent
                     if not (isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()))]
    elif step == "v" and isinstance(parent, list):
        wanted = json.loads(name)
        parent[:] = [item for item in parent if item != wanted]


def is_marker(path: Path) -> bool:
    return bool(path) and path[-1][0] in ("k", "v")


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(paths):
        cursor = root
        for step, name in path:
            cursor = cursor.setdefault(f"{step}:{name}", {})
        if path and path[-1][0] == "k":
            cursor.setdefault(".", {})
    return root


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    found: set[Path] = set()
    if not tree and prefix:
        found.add(prefix)
    for key, sub in tree.items():
        if key == ".":
            found.add(prefix)
            continue
        step, _, name = key.partition(":")
        found |= from_fields_v1(sub, prefix + ((step, name),))
    return found


def format_path(path: Path) -> str:
    """A path as API conflict messages print it: `.spec.replicas`, `.spec.containers[name="app"].image`."""
    text = ""
    for step, name in path:
        if step == "f":
            text += "." + name
        elif step == "k":
            text += "[" + ",".join(f"{k}={_compact(v)}" for k, v in json.loads(name).items()) + "]"
        else:
            text += f"[={name}]"
    return text
