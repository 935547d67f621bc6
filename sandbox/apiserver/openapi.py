"""`/openapi/v3`: the root index and one OpenAPI 3 document per group-version.

Each document declares the resource paths with `x-kubernetes-group-version-kind` and the `fieldValidation`
parameter on PATCH (how kubectl and Helm learn that the server validates fields itself), and carries the kinds'
schemas under `components.schemas` with the `x-kubernetes-*` extensions that clients use for patching.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from typing import Any

from ..paths import KUBERNETES_VERSION
from . import schemas
from .resources import Registry, ResourceType

_COMPONENTS = "#/components/schemas/"


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": True}}


_WRITE_PARAMETERS = [
    _query("dryRun", "When present, indicates that modifications should not be persisted."),
    _query("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
    _query("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request "
                              "containing unknown or duplicate fields: Ignore, Warn or Strict."),
]
_PATCH_PARAMETERS = _WRITE_PARAMETERS + [_query("force", "Force is going to \"force\" Apply requests.")]
_LIST_PARAMETERS = [_query(name, name) for name in ("labelSelector", "fieldSelector", "limit", "continue",
                                                    "resourceVersion", "timeoutSeconds", "watch",
                                                    "allowWatchBookmarks")]
_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml"]


def _convert(schema: Any, prefix: str) -> Any:
    """A JSON-schema/OpenAPI-v2 fragment as OpenAPI 3: refs under components, `["t", "null"]` types as `t`."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(prefix):
                out[key] = _COMPONENTS + value[len(prefix):]
            elif key == "type" and isinstance(value, list):
                types = [t for t in value if t != "null"]
                out[key] = types[0] if len(types) == 1 else types
            else:
                out[key] = _convert(value, prefix)
        return out
    if isinstance(schema, list):
        return [_convert(item, prefix) for item in schema]
    return schema


def _references(schema: Any, prefix: str, found: set[str]) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            found.add(ref[len(prefix):])
        for value in schema.values():
            _references(value, prefix, found)
    elif isinstance(schema, list):
        for item in schema:
            _references(item, prefix, found)


def _closure(doc: schemas.SchemaDoc, names: set[str]) -> dict[str, Any]:
    pending, seen = list(names), set()
    while pending:
        name = pending.pop()
        if name in seen or name not in doc.definitions:
            continue
        seen.add(name)
        found: set[str] = set()
        _references(doc.definitions[name], doc.ref_prefix, found)
        pending.extend(found - seen)
    return {name: _convert(doc.definitions[name], doc.ref_prefix) for name in sorted(seen)}


def _crd_component_name(resource: ResourceType) -> str:
    return ".".join(reversed(resource.group.split("."))) + f".{resource.version}.{resource.kind}"


def _component(resource: ResourceType) -> tuple[str | None, dict[str, Any]]:
    """The component name of a kind and the schemas its document must carry."""
    gvk = [{"group": resource.group, "version": resource.version, "kind": resource.kind}]
    kube = schemas.kubernetes_doc()
    if resource.schema_source == "kubernetes":
        name = schemas.kubernetes_definition_for(resource.group, resource.version, resource.kind)
        return name, _closure(kube, {name})
    if resource.schema_source == "openshift" and schemas.openshift_doc() is not None:
        name = schemas.openshift_definition_for(resource.group, resource.kind)
        if name:
            components = _closure(schemas.openshift_doc(), {name})
            components[name]["x-kubernetes-group-version-kind"] = gvk
            components.update(_closure(kube, {schemas.OBJECT_META}))
            return name, components
    if resource.schema_source == "crd" and resource.crd_schema is not None:
        name = _crd_component_name(resource)
        schema = copy.deepcopy(resource.crd_schema)
        properties = schema.setdefault("properties", {})
        properties["metadata"] = {"$ref": _COMPONENTS + schemas.OBJECT_META}
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        schema["x-kubernetes-group-version-kind"] = gvk
        components = _closure(kube, {schemas.OBJECT_META})
        components[name] = schema
        return name, components
    return None, {}


def _operation(resource: ResourceType, action: str, component: str | None, parameters: list[dict[str, Any]],
               request_types: list[str] | None = None) -> dict[str, Any]:
    content_schema = {"$ref": _COMPONENTS + component} if component else {"type": "object"}
    operation = {
        "operationId": f"{action}{resource.kind}",
        "parameters": parameters,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": content_schema}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": resource.group, "version": resource.version,
                                            "kind": resource.kind},
    }
    if request_types:
        operation["requestBody"] = {"content": {t: {"schema": content_schema} for t in request_types}}
    return operation


def _patch_types(resource: ResourceType) -> list[str]:
    """Custom resources take no strategic merge patch, and their OpenAPI says so (apiextensions-apiserver's
    builder): that is how `kubectl apply` knows to send a JSON merge patch for them."""
    return [t for t in _PATCH_TYPES if not (resource.custom and "strategic" in t)]


def _paths(resource: ResourceType, component: str | None) -> dict[str, Any]:
    base = resource.path_prefix + ("/namespaces/{namespace}" if resource.namespaced else "")
    collection = f"{base}/{resource.plural}"
    item = f"{collection}/{{name}}"
    paths = {
        collection: {
            "get": _operation(resource, "list", component, _LIST_PARAMETERS),
            "post": _operation(resource, "post", component, _WRITE_PARAMETERS, ["application/json"]),
            "delete": _operation(resource, "deletecollection", component, _LIST_PARAMETERS),
        },
        item: {
            "get": _operation(resource, "get", component, []),
            "put": _operation(resource, "put", component, _WRITE_PARAMETERS, ["application/json"]),
            "patch": _operation(resource, "patch", component, _PATCH_PARAMETERS, _patch_types(resource)),
            "delete": _operation(resource, "delete", component, _WRITE_PARAMETERS),
        },
    }
    if "status" in resource.subresources:
        paths[f"{item}/status"] = {
            "get": _operation(resource, "get", component, []),
            "put": _operation(resource, "put", component, _WRITE_PARAMETERS, ["application/json"]),
            "patch": _operation(resource, "patch", component, _PATCH_PARAMETERS, _patch_types(resource)),
        }
    return paths


class OpenApi:
    def __init__(self, registry: Registry):
        self.registry = registry

    @staticmethod
    def _doc_path(group: str, version: str) -> str:
        return f"apis/{group}/{version}" if group else f"api/{version}"

    def root(self) -> dict[str, Any]:
        paths = {}
        for group, versions in self.registry.group_versions().items():
            for version in versions:
                path = self._doc_path(group, version)
                paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={self._hash(group, version)}"}
        return {"paths": paths}

    def _encoded(self, group: str, version: str) -> bytes | None:
        # Keyed on the kinds themselves: a CRD created, edited or deleted gives its group-version a new document.
        return self._encode(tuple(self.registry.in_group_version(group, version)))

    @functools.lru_cache(maxsize=None)  # pylint: disable=method-cache-max-size-none  # one per set of kinds
    def _encode(self, kinds: tuple[ResourceType, ...]) -> bytes | None:
        if not kinds:
            return None
        components: dict[str, Any] = {}
        paths: dict[str, Any] = {}
        for resource in kinds:
            name, needed = _component(resource)
            components.update(needed)
            paths.update(_paths(resource, name))
        document = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": f"v{KUBERNETES_VERSION}"},
                    "paths": paths, "components": {"schemas": components}}
        return json.dumps(document).encode()

    def _hash(self, group: str, version: str) -> str:
        return hashlib.sha512(self._encoded(group, version) or b"").hexdigest().upper()[:32]

    def document(self, path: str) -> bytes | None:
        """The encoded document for `api/v1` or `apis/<group>/<version>`, or None."""
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "api":
            return self._encoded("", parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return self._encoded(parts[1], parts[2])
        return None
