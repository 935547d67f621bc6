"""Validate rendered objects against the API schemas a cluster would apply.

- Kubernetes built-in kinds: kubernetes-validate, strict (unknown fields refused), for KUBE_VERSION.
- CNPG Cluster/Database/ScheduledBackup/Backup, Barman Cloud ObjectStore, OpenShift Route: the CRDs in the shared
  schemas folder (`spec.versions[*].schema.openAPIV3Schema`).
- OpenShift BuildConfig, ImageStream, Template: the OpenAPI v2 definitions in openshift-openapi-subset.json.

The shared folder is `../shared/schemas` beside the checkout, or MLOPS_SCHEMAS_DIR. jsonschema does not evaluate
`x-kubernetes-*` keys or CEL rules; unknown fields are refused everywhere, as a strict server-side apply would.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.chart.render import KUBE_VERSION

SCHEMAS_DIR = Path(os.environ.get("MLOPS_SCHEMAS_DIR", Path(__file__).resolve().parents[3] / "shared" / "schemas"))

OPENSHIFT_DEFINITIONS = {
    ("build.openshift.io/v1", "BuildConfig"): "com.github.openshift.api.build.v1.BuildConfig",
    ("image.openshift.io/v1", "ImageStream"): "com.github.openshift.api.image.v1.ImageStream",
    ("template.openshift.io/v1", "Template"): "com.github.openshift.api.template.v1.Template",
}
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class SchemaUnavailable(Exception):
    """No schema is known for this kind (the caller decides whether that is acceptable)."""


def missing_schemas_reason() -> str | None:
    """Why the shared schemas cannot be used, or None when they are present."""
    needed = [SCHEMAS_DIR / "openshift-openapi-subset.json", SCHEMAS_DIR / "crds"]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        return (f"shared schemas for CNPG, Barman Cloud Plugin and OpenShift kinds not found ({', '.join(missing)}); "
                "set MLOPS_SCHEMAS_DIR to the folder holding crds/ and openshift-openapi-subset.json")
    return None


COMBINATORS = ("allOf", "anyOf", "oneOf", "not")


def _drop_nulls(schema: Any) -> Any:
    """An API server decodes `key: null` in a schema as an absent key (the Route CRD has `anyOf: null`)."""
    if isinstance(schema, list):
        return [_drop_nulls(item) for item in schema]
    if isinstance(schema, dict):
        return {key: _drop_nulls(value) for key, value in schema.items() if value is not None}
    return schema


def _refuse_unknown_fields(schema: Any) -> Any:
    """Copy of a structural schema where every object that lists its properties refuses others (like a strict
    server-side apply). Partial schemas under allOf/anyOf/oneOf/not are constraints, not structure: kept as is."""
    if isinstance(schema, list):
        return [_refuse_unknown_fields(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: value if key in COMBINATORS else _refuse_unknown_fields(value) for key, value in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        strict["additionalProperties"] = False
    return strict


@functools.cache
def _openshift_definitions() -> dict[str, Any]:
    with open(SCHEMAS_DIR / "openshift-openapi-subset.json", encoding="utf-8") as handle:
        definitions = json.load(handle)["definitions"]
    return {name: _refuse_unknown_fields(_drop_nulls(schema)) for name, schema in definitions.items()}


@functools.cache
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted((SCHEMAS_DIR / "crds").glob("*.yaml")):
        with open(path, encoding="utf-8") as handle:
            crd = yaml.safe_load(handle)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _drop_nulls(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = _refuse_unknown_fields(schema)
    return schemas


def _check(schema: dict[str, Any], instance: dict[str, Any], what: str) -> None:
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5])
        raise jsonschema.ValidationError(f"{what} is invalid: {details}")


def _metadata_schema() -> dict[str, Any]:
    return {"$ref": f"#/definitions/{OBJECT_META}", "definitions": _openshift_definitions()}


def validate_object(obj: dict[str, Any]) -> str:
    """Validate one object; return which schema was used. Raises jsonschema.ValidationError when invalid,
    SchemaUnavailable when no schema covers the kind (or the shared schemas are missing for a custom kind)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    what = f"{kind} {obj.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        return f"kubernetes-validate {KUBE_VERSION}"
    except kubernetes_validate.SchemaNotFoundError:
        pass
    except kubernetes_validate.ValidationError as error:
        raise jsonschema.ValidationError(f"{what} is invalid: {'.'.join(map(str, error.path))}: {error.message}")
    if missing_schemas_reason():
        raise SchemaUnavailable(missing_schemas_reason())
    crd = _crd_schemas().get((api_version, kind))
    if crd is not None:
        _check(crd, obj, what)
        _check(_metadata_schema(), obj["metadata"], f"{what} metadata")
        return f"CRD {kind}.{api_version}"
    definition = OPENSHIFT_DEFINITIONS.get((api_version, kind))
    if definition is not None:
        _check({"$ref": f"#/definitions/{definition}", "definitions": _openshift_definitions()}, obj, what)
        return f"OpenAPI {definition}"
    raise SchemaUnavailable(f"no schema for {kind} ({api_version}) in kubernetes-validate or {SCHEMAS_DIR}")
