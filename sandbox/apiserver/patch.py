"""The three client patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Strategic merge follows apimachinery's rules, driven by the schema's `x-kubernetes-patch-strategy` and
`x-kubernetes-patch-merge-key`: lists of containers, env, volumes, ports, ... merge by key; `$patch:
replace|delete|merge`, `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` directives.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from .schemas import ANY, Node

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"


class PatchError(ValueError):
    """A patch that cannot be applied (the API answers 422 or 400)."""


def merge_patch(original: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(original: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    try:
        return jsonpatch.apply_patch(original, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, TypeError, IndexError) as exc:
        raise PatchError(f"the json patch could not be applied: {exc}") from exc


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], node: Node | None) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    merged = _merge_map(copy.deepcopy(original), patch, node or ANY)
    return merged if merged is not None else {}


def _merge_map(original: dict[str, Any], patch: dict[str, Any], node: Node) -> dict[str, Any] | None:
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch directive {directive!r}")
    if _RETAIN in patch:
        retain = set(patch[_RETAIN] or [])
        original = {k: v for k, v in original.items() if k in retain}
    orders = {}
    for key, value in patch.items():
        if key.startswith(_ORDER):
            orders[key[len(_ORDER):]] = value
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN) or key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE):]
            if isinstance(original.get(field), list):
                original[field] = [item for item in original[field] if item not in value]
            continue
        child = node.child(key) or ANY
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict):
            current = original.get(key)
            merged = _merge_map(current if isinstance(current, dict) else {}, value, child)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list):
            original[key] = _merge_list(original.get(key), value, child)
        else:
            original[key] = copy.deepcopy(value)
    for key, order in orders.items():
        if isinstance(original.get(key), list):
            original[key] = _apply_order(original[key], order, (node.child(key) or ANY))
    return original


def _merge_list(original: Any, patch: list[Any], node: Node) -> list[Any]:
    strategy = node.patch_strategy()
    if "merge" not in strategy or not isinstance(original, list):
        return [_strip_directives(item) for item in patch if not _is_directive_only(item)]
    merge_key = node.patch_merge_key()
    if not merge_key:
        # A set of primitives (finalizers): union, keeping the original order.
        merged = list(original)
        for item in patch:
            if item not in merged:
                merged.append(item)
        return merged
    if any(isinstance(item, dict) and item.get(_DIRECTIVE) == "replace" for item in patch):
        return [_strip_directives(item) for item in patch if not _is_directive_only(item)]
    merged = [copy.deepcopy(item) for item in original]
    items = node.items()
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"list merged by key {merge_key!r} holds a non-object {item!r}")
        if merge_key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        index = next((i for i, existing in enumerate(merged)
                      if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]), None)
        if item.get(_DIRECTIVE) == "delete":
            if index is not None:
                merged.pop(index)
            continue
        if index is None:
            merged.append(_strip_directives(item))
        else:
            result = _merge_map(merged[index], item, items)
            if result is None:
                merged.pop(index)
            else:
                merged[index] = result
    return merged


def _apply_order(items: list[Any], order: list[Any], node: Node) -> list[Any]:
    merge_key = node.patch_merge_key()

    def identity(item: Any) -> Any:
        return item.get(merge_key) if merge_key and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    ordered = [item for key in wanted for item in items if identity(item) == key]
    rest = [item for item in items if identity(item) not in wanted]
    return ordered + rest


def _is_directive_only(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {_DIRECTIVE}


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items()
                if k not in (_DIRECTIVE, _RETAIN) and not k.startswith((_ORDER, _DELETE_PRIMITIVE))}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)
