"""Decode the Kubernetes protobuf bodies that typed Go clients send.

Helm's release storage (and `--create-namespace`) use client-go's typed clients, which POST and PUT Secrets,
ConfigMaps and Namespaces as `application/vnd.kubernetes.protobuf` (and DELETE with a protobuf DeleteOptions);
`kubectl auth can-i|whoami`, `kubectl create token` and `kubectl create serviceaccount|role|rolebinding|...` POST
their objects the same way.
Responses can stay JSON: those clients accept it. Field numbers are those of k8s.io/api generated.proto.
Any other protobuf kind is refused with 415, never guessed.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from ..timestamps import format_time

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, Any]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    found = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value = data[pos:pos + length]
            pos += length
        elif wire == 1:
            value = data[pos:pos + 8]
            pos += 8
        elif wire == 5:
            value = data[pos:pos + 4]
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        found.append((number, value))
    return found


def _text(value: bytes) -> str:
    return value.decode("utf-8")


def _map_entry(value: bytes) -> tuple[str, bytes]:
    key, item = "", b""
    for number, part in _fields(value):
        if number == 1:
            key = _text(part)
        elif number == 2:
            item = part
    return key, item


def _time(value: bytes) -> str:
    seconds = 0
    for number, part in _fields(value):
        if number == 1:
            seconds = part
    return format_time(datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc))


def _owner_reference(value: bytes) -> dict[str, Any]:
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    ref: dict[str, Any] = {}
    for number, part in _fields(value):
        if number in names:
            ref[names[number]] = _text(part)
        elif number == 6:
            ref["controller"] = bool(part)
        elif number == 7:
            ref["blockOwnerDeletion"] = bool(part)
    return ref


def _object_meta(value: bytes) -> dict[str, Any]:
    strings = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    meta: dict[str, Any] = {}
    for number, part in _fields(value):
        if number in strings:
            text = _text(part)
            if text:
                meta[strings[number]] = text
        elif number == 7:
            meta["generation"] = part
        elif number == 8:
            meta["creationTimestamp"] = _time(part)
        elif number in (11, 12):
            key, item = _map_entry(part)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = _text(item)
        elif number == 13:
            meta.setdefault("ownerReferences", []).append(_owner_reference(part))
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(part))
    return meta


def _secret(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            obj["metadata"] = _object_meta(part)
        elif number == 2:
            key, item = _map_entry(part)
            obj.setdefault("data", {})[key] = base64.b64encode(item).decode()
        elif number == 3:
            obj["type"] = _text(part)
        elif number == 4:
            key, item = _map_entry(part)
            obj.setdefault("stringData", {})[key] = _text(item)
        elif number == 5:
            obj["immutable"] = bool(part)
    return obj


def _config_map(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            obj["metadata"] = _object_meta(part)
        elif number == 2:
            key, item = _map_entry(part)
            obj.setdefault("data", {})[key] = _text(item)
        elif number == 3:
            key, item = _map_entry(part)
            obj.setdefault("binaryData", {})[key] = base64.b64encode(item).decode()
        elif number == 4:
            obj["immutable"] = bool(part)
    return obj


def _namespace(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            obj["metadata"] = _object_meta(part)
        elif number == 2:
            finalizers = [_text(f) for n, f in _fields(part) if n == 1]
            if finalizers:
                obj["spec"] = {"finalizers": finalizers}
    return obj


def _delete_options(raw: bytes) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            options["gracePeriodSeconds"] = part
        elif number == 2:
            pre = {}
            for sub_number, sub in _fields(part):
                pre["uid" if sub_number == 1 else "resourceVersion"] = _text(sub)
            options["preconditions"] = pre
        elif number == 3:
            options["orphanDependents"] = bool(part)
        elif number == 4:
            options["propagationPolicy"] = _text(part)
        elif number == 5:
            options.setdefault("dryRun", []).append(_text(part))
    return options


def _strings(raw: bytes, names: dict[int, str]) -> dict[str, Any]:
    """The string fields of a message, by field number."""
    return {names[number]: _text(part) for number, part in _fields(raw) if number in names}


def _meta_and_spec(raw: bytes, spec: Any) -> dict[str, Any]:
    """A request object (k8s.io/api authorization/v1, authentication/v1): metadata = 1, spec = 2."""
    obj: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            obj["metadata"] = _object_meta(part)
        elif number == 2 and spec is not None:
            obj["spec"] = spec(part)
    return obj


def _access_review_spec(raw: bytes) -> dict[str, Any]:
    """SelfSubjectAccessReviewSpec: resourceAttributes = 1, nonResourceAttributes = 2."""
    spec: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            spec["resourceAttributes"] = _strings(part, {1: "namespace", 2: "verb", 3: "group", 4: "version",
                                                         5: "resource", 6: "subresource", 7: "name"})
        elif number == 2:
            spec["nonResourceAttributes"] = _strings(part, {1: "path", 2: "verb"})
    return spec


def _token_request_spec(raw: bytes) -> dict[str, Any]:
    """TokenRequestSpec: audiences = 1, boundObjectRef = 3, expirationSeconds = 4."""
    spec: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            spec.setdefault("audiences", []).append(_text(part))
        elif number == 3:
            spec["boundObjectRef"] = _strings(part, {1: "kind", 2: "apiVersion", 3: "name", 4: "uid"})
        elif number == 4:
            spec["expirationSeconds"] = part
    return spec


def _repeated(raw: bytes, names: dict[int, str]) -> dict[str, Any]:
    """A message of repeated strings (PolicyRule: verbs = 1, apiGroups = 2, resources = 3, ...)."""
    found: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number in names:
            found.setdefault(names[number], []).append(_text(part))
    return found


def _label_selector(raw: bytes) -> dict[str, Any]:
    """metav1.LabelSelector: matchLabels = 1, matchExpressions = 2 (key = 1, operator = 2, values = 3)."""
    selector: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            key, item = _map_entry(part)
            selector.setdefault("matchLabels", {})[key] = _text(item)
        elif number == 2:
            expression = {**_strings(part, {1: "key", 2: "operator"}), **_repeated(part, {3: "values"})}
            selector.setdefault("matchExpressions", []).append(expression)
    return selector


def _role(raw: bytes) -> dict[str, Any]:
    """rbac/v1 Role and ClusterRole: metadata = 1, rules = 2, aggregationRule = 3 (clusterRoleSelectors = 1)."""
    obj: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            obj["metadata"] = _object_meta(part)
        elif number == 2:
            obj.setdefault("rules", []).append(_repeated(part, {1: "verbs", 2: "apiGroups", 3: "resources",
                                                                4: "resourceNames", 5: "nonResourceURLs"}))
        elif number == 3:
            selectors = [_label_selector(sub) for sub_number, sub in _fields(part) if sub_number == 1]
            obj["aggregationRule"] = {"clusterRoleSelectors": selectors}
    return obj


def _binding(raw: bytes) -> dict[str, Any]:
    """rbac/v1 RoleBinding and ClusterRoleBinding: metadata = 1, subjects = 2, roleRef = 3."""
    obj: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            obj["metadata"] = _object_meta(part)
        elif number == 2:
            subject = _strings(part, {1: "kind", 2: "apiGroup", 3: "name", 4: "namespace"})
            obj.setdefault("subjects", []).append({k: v for k, v in subject.items() if v})
        elif number == 3:
            obj["roleRef"] = _strings(part, {1: "apiGroup", 2: "kind", 3: "name"})
    return obj


def _service_account(raw: bytes) -> dict[str, Any]:
    """core/v1 ServiceAccount: metadata = 1, secrets = 2, imagePullSecrets = 3, automountServiceAccountToken = 4."""
    obj: dict[str, Any] = {}
    for number, part in _fields(raw):
        if number == 1:
            obj["metadata"] = _object_meta(part)
        elif number == 2:
            reference = _strings(part, {1: "kind", 2: "namespace", 3: "name", 4: "uid", 5: "apiVersion",
                                        6: "resourceVersion", 7: "fieldPath"})
            obj.setdefault("secrets", []).append({k: v for k, v in reference.items() if v})
        elif number == 3:
            obj.setdefault("imagePullSecrets", []).append(_strings(part, {1: "name"}))
        elif number == 4:
            obj["automountServiceAccountToken"] = bool(part)
    return obj


_DECODERS = {("v1", "Secret"): _secret, ("v1", "ConfigMap"): _config_map, ("v1", "Namespace"): _namespace,
             ("v1", "DeleteOptions"): _delete_options, ("meta.k8s.io/v1", "DeleteOptions"): _delete_options,
             # What `kubectl auth can-i|whoami` and `kubectl create token` send.
             ("authorization.k8s.io/v1", "SelfSubjectAccessReview"):
                 lambda raw: _meta_and_spec(raw, _access_review_spec),
             ("authorization.k8s.io/v1", "SelfSubjectRulesReview"):
                 lambda raw: _meta_and_spec(raw, lambda part: _strings(part, {1: "namespace"})),
             ("authentication.k8s.io/v1", "SelfSubjectReview"): lambda raw: _meta_and_spec(raw, None),
             ("authentication.k8s.io/v1", "TokenRequest"): lambda raw: _meta_and_spec(raw, _token_request_spec),
             # What `kubectl create serviceaccount|role|clusterrole|rolebinding|clusterrolebinding` send.
             ("v1", "ServiceAccount"): _service_account,
             ("rbac.authorization.k8s.io/v1", "Role"): _role, ("rbac.authorization.k8s.io/v1", "ClusterRole"): _role,
             ("rbac.authorization.k8s.io/v1", "RoleBinding"): _binding,
             ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): _binding}


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded object as the JSON the API would have received."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body without the k8s envelope prefix")
    api_version = kind = ""
    raw = b""
    for number, part in _fields(body[len(MAGIC):]):
        if number == 1:
            for sub_number, sub in _fields(part):
                if sub_number == 1:
                    api_version = _text(sub)
                elif sub_number == 2:
                    kind = _text(sub)
        elif number == 2:
            raw = part
    decoder = _DECODERS.get((api_version, kind))
    if decoder is None:
        raise ProtobufError(f"protobuf bodies of {api_version}/{kind} are not supported by the sandbox; "
                            "send JSON")
    obj = decoder(raw)
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
