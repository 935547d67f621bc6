"""Bring a decoded object to the shape its schema declares, as the API server's decoder does.

- fields the schema does not declare are reported (for `fieldValidation=Strict`) and dropped;
- `null` values are dropped (a Go field decodes them to its zero value; CRDs prune them unless `nullable`);
- CRD schema `default`s are filled in where a field is missing.
"""

from __future__ import annotations

from typing import Any

from .schemas import ANY, Node

_DROP = object()


def format_path(path: tuple) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


class Conformer:
    """Walks one object; `unknown` collects the paths of undeclared fields."""

    def __init__(self, apply_defaults: bool):
        self.apply_defaults = apply_defaults
        self.unknown: list[str] = []

    def conform(self, node: Node, value: Any, path: tuple = ()) -> Any:
        if value is None:
            return None if node.nullable else _DROP
        shape = node.shape
        if shape == "object" and isinstance(value, dict):
            return self._object(node, value, path)
        if shape == "map" and isinstance(value, dict):
            items = node.child("")
            out = {}
            for key, item in value.items():
                conformed = self.conform(items or ANY, item, path + (key,))
                if conformed is not _DROP:
                    out[key] = conformed
            return out
        if shape == "array" and isinstance(value, list):
            items = node.items()
            out_list = []
            for index, item in enumerate(value):
                conformed = self.conform(items, item, path + (index,))
                out_list.append(None if conformed is _DROP else conformed)
            return out_list
        # Scalars, unchecked subtrees, and values of the wrong type (the validator reports those).
        return value

    def _object(self, node: Node, value: dict, path: tuple) -> dict:
        out = {}
        for key, item in value.items():
            child = node.child(key)
            if child is None:
                self.unknown.append(format_path(path + (key,)))
                continue
            conformed = self.conform(child, item, path + (key,))
            if conformed is not _DROP:
                out[key] = conformed
        if self.apply_defaults:
            for key, prop in node.properties().items():
                if key in out:
                    continue
                has_default, default = node.doc.node(prop).default()
                if has_default:
                    out[key] = self.conform(node.doc.node(prop), _copy(default), path + (key,))
        return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def drop_nulls(value: Any) -> Any:
    """Remove null map values everywhere (objects without a schema decode the same way)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value
