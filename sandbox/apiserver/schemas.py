"""The structural schemas of every served kind, and a cursor (`Node`) to walk them.

Three sources, each read where it is published:
- built-in Kubernetes kinds: the OpenAPI definitions bundled in kubernetes-validate (with the
  `x-kubernetes-patch-*` and `x-kubernetes-list-*` extensions that drive patching and server-side apply);
- custom resources (CNPG, Barman Cloud plugin, Route): their CRDs' `openAPIV3Schema`;
- other OpenShift kinds (BuildConfig, ImageStream, Template): the OpenShift OpenAPI v2 definitions.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import importlib_resources

from ..paths import KUBERNETES_VERSION, SCHEMAS_DIR

LOG = logging.getLogger(__name__)

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@dataclass(frozen=True)
class SchemaDoc:
    """A family of schemas whose `$ref`s resolve inside one definitions map."""

    name: str
    definitions: dict[str, Any]
    ref_prefix: str
    # "kubernetes" and "openshift" describe Go structs; "crd" follows structural-schema pruning rules.
    flavour: str

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow `$ref` (and the `allOf: [{$ref}]` wrapper) to the schema it names."""
        seen = 0
        while True:
            ref = schema.get("$ref")
            if ref is None and len(schema.get("allOf", ())) == 1 and "$ref" in schema["allOf"][0]:
                ref = schema["allOf"][0]["$ref"]
            if ref is None:
                return schema
            schema = self.definitions[ref[len(self.ref_prefix):]]
            seen += 1
            if seen > 50:
                raise ValueError(f"$ref loop in {self.name} at {ref}")

    def node(self, schema: dict[str, Any]) -> Node:
        return Node(self, self.resolve(schema))


def _types(schema: dict[str, Any]) -> set[str]:
    declared = schema.get("type")
    if declared is None:
        return set()
    return {declared} if isinstance(declared, str) else set(declared)


class Node:
    """One point in a schema, answering what the walkers (pruning, patching, apply) need to know."""

    __slots__ = ("doc", "raw")

    def __init__(self, doc: SchemaDoc, raw: dict[str, Any]):
        self.doc = doc
        self.raw = raw

    @property
    def shape(self) -> str:
        """'object' (closed struct), 'map', 'array', 'any' (unchecked) or 'scalar'."""
        raw = self.raw
        types = _types(raw)
        if raw.get("x-kubernetes-preserve-unknown-fields") and "properties" not in raw:
            return "any"
        if "properties" in raw:
            return "object"
        if isinstance(raw.get("additionalProperties"), dict):
            return "map"
        if "array" in types or "items" in raw:
            return "array"
        if "object" in types or raw.get("x-kubernetes-embedded-resource"):
            # A Go struct without declared fields (RawExtension, JSON) holds anything; a structural CRD
            # schema with neither properties nor preserve-unknown-fields prunes everything below.
            return "object" if self.doc.flavour == "crd" else "any"
        if not types and not raw.get("x-kubernetes-int-or-string") and not raw.get("oneOf") \
                and not raw.get("anyOf") and not raw.get("format"):
            return "any"
        return "scalar"

    @property
    def preserves_unknown(self) -> bool:
        return bool(self.raw.get("x-kubernetes-preserve-unknown-fields"))

    @property
    def nullable(self) -> bool:
        return bool(self.raw.get("nullable"))

    def properties(self) -> dict[str, Any]:
        return self.raw.get("properties", {})

    def child(self, name: str) -> Node | None:
        """The schema of field `name`, or None when the field is not declared."""
        shape = self.shape
        if shape == "object":
            prop = self.properties().get(name)
            if prop is not None:
                return self.doc.node(prop)
            if self.preserves_unknown:
                return ANY
            return None
        if shape == "map":
            return self.doc.node(self.raw["additionalProperties"])
        return ANY

    def items(self) -> Node:
        items = self.raw.get("items")
        if isinstance(items, dict):
            return self.doc.node(items)
        return ANY

    def list_type(self) -> str:
        """'map', 'set' or 'atomic' (the default for lists without an annotation)."""
        declared = self.raw.get("x-kubernetes-list-type")
        if declared:
            return declared
        if self.raw.get("x-kubernetes-patch-merge-key"):
            return "map"
        return "atomic"

    def map_keys(self) -> list[str]:
        keys = self.raw.get("x-kubernetes-list-map-keys")
        if keys:
            return list(keys)
        merge_key = self.raw.get("x-kubernetes-patch-merge-key")
        return [merge_key] if merge_key else []

    def patch_merge_key(self) -> str | None:
        """The strategic-merge-patch key of a list, or None when the list is replaced as a whole."""
        strategy = self.raw.get("x-kubernetes-patch-strategy", "")
        if "merge" in strategy.split(","):
            return self.raw.get("x-kubernetes-patch-merge-key") or None
        return None

    def patch_strategy(self) -> set[str]:
        return set(filter(None, self.raw.get("x-kubernetes-patch-strategy", "").split(",")))

    def default(self) -> tuple[bool, Any]:
        if "default" in self.raw:
            return True, self.raw["default"]
        return False, None


ANY = Node(SchemaDoc("any", {}, "", "kubernetes"), {"x-kubernetes-preserve-unknown-fields": True})


class RootNode(Node):
    """A kind's top-level schema whose `metadata` is always ObjectMeta (CRD schemas leave it open)."""

    __slots__ = ()

    def child(self, name: str) -> Node | None:
        if name == "metadata":
            doc = kubernetes_doc()
            return doc.node(doc.definitions[OBJECT_META])
        return super().child(name)

    @property
    def shape(self) -> str:
        return "object" if self.raw is not ANY.raw else "any"

    def properties(self) -> dict[str, Any]:
        return self.raw.get("properties", {})


def root_node(node: Node | None) -> RootNode:
    if node is None:
        return RootNode(ANY.doc, ANY.raw)
    return RootNode(node.doc, node.raw)


# --- sources -------------------------------------------------------------------------------------------------


@functools.cache
def kubernetes_doc() -> SchemaDoc:
    folder = importlib_resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    path = folder.joinpath(f"v{KUBERNETES_VERSION}-local").joinpath("_definitions.json")
    definitions = json.loads(path.read_text(encoding="utf-8"))["$defs"]
    # The API server's own OpenAPI declares these list-map key defaults (so that server-side apply can match
    # `ports` entries written without a protocol); the bundled JSON schemas leave them out.
    for name in ("io.k8s.api.core.v1.ContainerPort", "io.k8s.api.core.v1.ServicePort",
                 "io.k8s.api.core.v1.EndpointPort"):
        if name in definitions:
            definitions[name]["properties"]["protocol"]["default"] = "TCP"
    return SchemaDoc("kubernetes", definitions, "#/$defs/", "kubernetes")


def kubernetes_definition_for(group: str, version: str, kind: str) -> str | None:
    """The definition name of a built-in kind, found through its `x-kubernetes-group-version-kind`."""
    return _kubernetes_gvk_index().get((group, version, kind))


@functools.cache
def _kubernetes_gvk_index() -> dict[tuple[str, str, str], str]:
    index = {}
    for name, schema in kubernetes_doc().definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


# Types whose JSON form is looser than the v2 definitions say (a Quantity may be a number, an IntOrString an int).
_LOOSE_TYPES = ("io.k8s.apimachinery.pkg.api.resource.Quantity", "io.k8s.apimachinery.pkg.util.intstr.IntOrString")


@functools.cache
def openshift_doc() -> SchemaDoc | None:
    path = SCHEMAS_DIR / "openshift-openapi-subset.json"
    if not path.is_file():
        LOG.warning("OpenShift schemas not found at %s: BuildConfig, ImageStream and Template are accepted "
                    "without schema validation (set MLOPS_SCHEMAS_DIR)", path)
        return None
    definitions = dict(json.loads(path.read_text(encoding="utf-8"))["definitions"])
    for name in _LOOSE_TYPES:
        definitions[name] = {"x-kubernetes-int-or-string": True, "description": definitions[name].get("description", "")}
    return SchemaDoc("openshift", definitions, "#/definitions/", "openshift")


def openshift_definition_for(group: str, kind: str) -> str | None:
    doc = openshift_doc()
    if doc is None:
        return None
    name = f"com.github.openshift.api.{group.split('.')[0]}.v1.{kind}"
    return name if name in doc.definitions else None


def crd_files() -> list[Path]:
    folder = SCHEMAS_DIR / "crds"
    if not folder.is_dir():
        LOG.warning("CRD schemas not found at %s: custom resources are accepted without schema validation "
                    "(set MLOPS_SCHEMAS_DIR)", folder)
        return []
    return sorted(folder.glob("*.yaml"))


def crd_doc(name: str, schema: dict[str, Any]) -> SchemaDoc:
    return SchemaDoc(f"crd:{name}", {"root": schema}, "", "crd")
