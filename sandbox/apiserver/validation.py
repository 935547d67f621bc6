"""Validate a write against the kind's real schema, answering the way a real API server does.

- undeclared fields: with `fieldValidation=Strict` a 400 "strict decoding error"; otherwise dropped, with a
  warning (`Warn`, the server default) or silently (`Ignore`);
- a built-in kind given a value of the wrong JSON type: 400 "cannot be handled as a ..." (the Go decoder fails);
- anything else the schema forbids (missing required field, wrong type in a custom resource, enum, pattern,
  bounds) and invalid names or labels: 422 Invalid with one cause per field.

Not evaluated: CEL rules (`x-kubernetes-validations`) and the hand-written validation of built-in kinds beyond
names, labels and what their OpenAPI schema states.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from . import errors, schemas
from .conform import Conformer, drop_nulls, format_path
from .resources import ResourceType

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  f"validation is '{_DNS1123_SUBDOMAIN}')")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              f"and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
              f"'{_DNS1123_LABEL}')")
_DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                f"alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                f"regex used for validation is '{_DNS1035_LABEL}')")

# Kinds whose names are DNS labels rather than subdomains.
_NAME_RULES = {"Namespace": (_DNS1123_LABEL, 63, _LABEL_MSG), "Service": (_DNS1035_LABEL, 63, _DNS1035_MSG)}
# RBAC names are path segments (ValidateRBACName = path.ValidatePathSegmentName): `system:basic-user` is fine.
_NAME_RULES.update(dict.fromkeys(("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"), (
    r"(?!\.\.?$)[^/%]+", 2048, "may not be '.' or '..' and may not contain '/' or '%'")))


@dataclass
class Validated:
    obj: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _cause(path: str, reason: str, message: str) -> dict[str, str]:
    return {"reason": reason, "message": message, "field": path}


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return type(value).__name__
    return str(value)


def validate(resource: ResourceType, obj: dict[str, Any], field_validation: str = "Warn") -> Validated:
    """Check and normalise `obj` for `resource`; raise ApiError as the API server would."""
    name = (obj.get("metadata") or {}).get("name") or (obj.get("metadata") or {}).get("generateName") or ""
    conformer = Conformer(apply_defaults=resource.schema_source == "crd")
    meta_doc = schemas.kubernetes_doc()
    meta_node = meta_doc.node(meta_doc.definitions[schemas.OBJECT_META])
    metadata = conformer.conform(meta_node, obj.get("metadata") or {}, ("metadata",))
    node = resource.schema_node()
    body = {k: v for k, v in obj.items() if k != "metadata"}
    if node is not None:
        body = conformer.conform(node, body)
    else:
        body = drop_nulls(body)  # no schema (warned once at start): accepted as sent
    result = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": metadata}
    result.update({k: v for k, v in body.items() if k not in ("apiVersion", "kind")})

    warnings = []
    if conformer.unknown:
        if field_validation == "Strict":
            listed = ", ".join(f'unknown field "{path}"' for path in conformer.unknown)
            raise errors.bad_request(f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                                     f"{resource.kind}: strict decoding error: {listed}")
        if field_validation != "Ignore":
            warnings = [f'unknown field "{path}"' for path in conformer.unknown]

    causes = _metadata_causes(resource, metadata)
    if node is not None:
        causes += _schema_causes(resource, result)
    if resource.kind == "Secret":
        causes += _secret_causes(result)
    if causes:
        raise errors.invalid(resource, name, causes)
    return Validated(result, warnings)


def _metadata_causes(resource: ResourceType, metadata: dict[str, Any]) -> list[dict[str, str]]:
    causes = []
    name = metadata.get("name")
    if not name and not metadata.get("generateName"):
        causes.append(_cause("metadata.name", "FieldValueRequired", "Required value: name or generateName is required"))
    elif name:
        pattern, limit, message = _NAME_RULES.get(resource.kind, (_DNS1123_SUBDOMAIN, 253, _SUBDOMAIN_MSG))
        if not re.fullmatch(pattern, name):
            causes.append(_cause("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {message}'))
        elif len(name) > limit:
            causes.append(_cause("metadata.name", "FieldValueInvalid",
                                 f'Invalid value: "{name}": must be no more than {limit} characters'))
    for key, value in (metadata.get("labels") or {}).items():
        if not _qualified_name_ok(key):
            causes.append(_cause("metadata.labels", "FieldValueInvalid",
                                 f'Invalid value: "{key}": name part must consist of alphanumeric characters, '
                                 "'-', '_' or '.', and must start and end with an alphanumeric character"))
        if not isinstance(value, str) or len(value) > 63 or not re.fullmatch(_LABEL_VALUE, value):
            causes.append(_cause("metadata.labels", "FieldValueInvalid",
                                 f'Invalid value: "{value}": a valid label must be an empty string or consist of '
                                 "alphanumeric characters, '-', '_' or '.', must start and end with an alphanumeric "
                                 "character, and be no more than 63 characters"))
    for key in (metadata.get("annotations") or {}):
        if not _qualified_name_ok(key):
            causes.append(_cause("metadata.annotations", "FieldValueInvalid",
                                 f'Invalid value: "{key}": name part must consist of alphanumeric characters'))
    if metadata.get("namespace") and not resource.namespaced:
        metadata.pop("namespace")
    return causes


def _qualified_name_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not re.fullmatch(_DNS1123_SUBDOMAIN, prefix)):
        return False
    return 0 < len(name) <= 63 and re.fullmatch(_QUALIFIED_NAME, name) is not None


def _secret_causes(secret: dict[str, Any]) -> list[dict[str, str]]:
    causes = []
    for key, value in (secret.get("data") or {}).items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError):
            causes.append(_cause(f"data[{key}]", "FieldValueInvalid", "Invalid value: illegal base64 data"))
    return causes


@functools.cache
def _validator(resource: ResourceType):
    node = resource.schema_node()
    doc = node.doc
    if doc.flavour == "kubernetes":
        name = schemas.kubernetes_definition_for(resource.group, resource.version, resource.kind)
        return jsonschema.Draft202012Validator({"$defs": doc.definitions, "$ref": f"#/$defs/{name}"})
    if doc.flavour == "openshift":
        name = schemas.openshift_definition_for(resource.group, resource.kind)
        return jsonschema.Draft4Validator({"definitions": doc.definitions, "$ref": f"#/definitions/{name}"})
    return jsonschema.Draft7Validator(resource.crd_schema)


def _schema_causes(resource: ResourceType, obj: dict[str, Any]) -> list[dict[str, str]]:
    causes = []
    type_errors = []
    for error in _validator(resource).iter_errors(obj):
        for leaf in _leaves(error):
            path = format_path(tuple(leaf.absolute_path))
            if leaf.validator == "type" or (leaf.validator in ("oneOf", "anyOf") and not isinstance(
                    leaf.instance, (str, int, float))):
                type_errors.append((path, leaf))
                continue
            causes.append(_describe(path, leaf))
    if type_errors:
        if resource.schema_source == "crd":
            for path, leaf in type_errors:
                expected = leaf.validator_value if leaf.validator == "type" else "integer or string"
                if isinstance(expected, list):
                    expected = " or ".join(t for t in expected if t != "null")
                causes.append(_cause(path, "FieldValueTypeInvalid",
                                     f"Invalid value: {_go_json(leaf.instance)}: {path} in body must be of type "
                                     f"{expected}: {_go_json(leaf.instance)}"))
        else:
            path, leaf = type_errors[0]
            expected = leaf.validator_value if leaf.validator == "type" else "quantity or int-or-string"
            if isinstance(expected, list):
                expected = " or ".join(t for t in expected if t != "null")
            raise errors.bad_request(
                f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: json: '
                f"cannot unmarshal {_json_type(leaf.instance)} into Go struct field {path} of type {expected}")
    # One cause per field, in a stable order.
    unique = {(c["field"], c["message"]): c for c in causes}
    return sorted(unique.values(), key=lambda c: c["field"])


def _leaves(error: jsonschema.ValidationError):
    """The most specific errors under a oneOf/anyOf (the branch that matched the instance's type)."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        typed = [e for e in error.context if e.validator != "type"]
        if typed:
            for sub in typed:
                yield from _leaves(sub)
            return
    yield error


def _describe(path: str, error: jsonschema.ValidationError) -> dict[str, str]:
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        field_path = ".".join(filter(None, [path, missing[0] if missing else ""]))
        return _cause(field_path, "FieldValueRequired", "Required value")
    if error.validator == "enum":
        supported = ", ".join(_go_json(v) for v in error.validator_value)
        return _cause(path, "FieldValueNotSupported",
                      f"Unsupported value: {_go_json(error.instance)}: supported values: {supported}")
    if error.validator == "pattern":
        return _cause(path, "FieldValueInvalid", f"Invalid value: {_go_json(error.instance)}: {path} in body should "
                                                 f"match '{error.validator_value}'")
    if error.validator in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
                           "exclusiveMinimum", "exclusiveMaximum"):
        return _cause(path, "FieldValueInvalid", f"Invalid value: {_go_json(error.instance)}: {path} in body "
                                                 f"{_bound_text(error)}")
    return _cause(path, "FieldValueInvalid", f"Invalid value: {_go_json(error.instance)}: {error.message}")


def _bound_text(error: jsonschema.ValidationError) -> str:
    limit = error.validator_value
    return {
        "minimum": f"should be greater than or equal to {limit}",
        "maximum": f"should be less than or equal to {limit}",
        "exclusiveMinimum": f"should be greater than {limit}",
        "exclusiveMaximum": f"should be less than {limit}",
        "minLength": f"should be at least {limit} chars long",
        "maxLength": f"may not be more than {limit} bytes",
        "minItems": f"should have at least {limit} items",
        "maxItems": f"must have at most {limit} items",
    }[error.validator]


def _go_json(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return _go_value(value)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "value"
