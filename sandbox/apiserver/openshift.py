"""OpenShift endpoints that are verbs, not stored kinds.

- `POST .../namespaces/<ns>/processedtemplates`: process a Template as `oc process` does (parameter values,
  `generate: expression`, `${NAME}` in strings, `${{NAME}}` for non-string values, template labels);
- `POST .../namespaces/<ns>/buildconfigs/<name>/instantiate`: start a Build from a BuildConfig, as
  openshift-apiserver's build generator does for `oc start-build` and for the buildconfig controller's
  ConfigChange trigger: next `status.lastVersion`, Build `<bc>-<n>` owned by the BuildConfig, `triggeredBy` from
  the BuildRequest, and a request naming a `lastVersion` the BuildConfig has moved past refused (the generator's
  checkLastVersion: how a ConfigChange trigger never builds twice).
"""

from __future__ import annotations

import copy
import json
import random
import re
import string
from collections.abc import Callable
from typing import Any

from . import errors
from .operations import Api, Options
from .podbinding import bind

Endpoint = Callable[[Api, str, str, Any, Options], tuple[int, Any]]

_EXPRESSION_CLASSES = {
    r"\w": string.ascii_letters + string.digits + "_",
    r"\d": string.digits,
    r"\a": string.ascii_letters,
    r"\A": string.punctuation,
}


def _generate(expression: str) -> str:
    """Expand the subset of OpenShift's generator expressions templates use: `[a-zA-Z0-9]{16}`, `\\w{8}`."""
    out = ""
    for match in re.finditer(r"(\[[^\]]+\]|\\[wdaA]|.)(\{(\d+)\})?", expression):
        token, count = match.group(1), int(match.group(3) or 1)
        if token.startswith("["):
            alphabet = ""
            body = token[1:-1]
            for start, end in re.findall(r"(.)-(.)", body):
                alphabet += "".join(chr(c) for c in range(ord(start), ord(end) + 1))
            for cls, chars in _EXPRESSION_CLASSES.items():
                if cls in body:
                    alphabet += chars
            alphabet = alphabet or body
        else:
            alphabet = _EXPRESSION_CLASSES.get(token, token)
        out += "".join(random.choice(alphabet) for _ in range(count))
    return out


def _substitute(value: Any, params: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {_substitute(k, params): _substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{\{([a-zA-Z0-9_]+)\}\}", value)
        if whole and whole.group(1) in params:
            raw = params[whole.group(1)]
            try:
                return json.loads(raw)
            except ValueError:
                return raw
        value = re.sub(r"\$\{\{([a-zA-Z0-9_]+)\}\}", lambda m: params.get(m.group(1), m.group(0)), value)
        return re.sub(r"\$\{([a-zA-Z0-9_]+)\}", lambda m: params.get(m.group(1), m.group(0)), value)
    return value


def process_template(api: Api, namespace: str, _name: str, body: Any, _options: Options) -> tuple[int, Any]:
    resource = api.registry.by_kind("template.openshift.io/v1", "Template")
    if not isinstance(body, dict) or body.get("kind") != "Template":
        raise errors.bad_request("processedtemplates expects a Template object")
    template = copy.deepcopy(body)
    params: dict[str, str] = {}
    causes = []
    for index, param in enumerate(template.get("parameters") or []):
        name = param.get("name", "")
        value = param.get("value")
        if not value and param.get("generate") == "expression":
            value = _generate(param.get("from", r"[a-zA-Z0-9]{8}"))
            param["value"] = value
        if not value and param.get("required"):
            causes.append({"field": f"template.parameters[{index}]", "reason": "FieldValueRequired",
                           "message": f"Required value: template.parameters[{index}]: parameter {name} is required "
                                      "and must be specified"})
        params[name] = value or ""
    if causes:
        raise errors.invalid(resource, template.get("metadata", {}).get("name", ""), causes)
    labels = template.get("labels") or {}
    objects = []
    for obj in template.get("objects") or []:
        processed = _substitute(obj, params)
        if labels and isinstance(processed, dict):
            processed.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
        objects.append(processed)
    template["objects"] = objects
    template.setdefault("metadata", {})["namespace"] = namespace
    return 201, template


def instantiate_build(api: Api, namespace: str, name: str, body: Any, options: Options) -> tuple[int, Any]:
    registry = api.registry
    bc_type = registry.by_kind("build.openshift.io/v1", "BuildConfig")
    build_type = registry.by_kind("build.openshift.io/v1", "Build")
    request = body if isinstance(body, dict) else {}
    with api.store.lock:
        config = api.get(bc_type, namespace, name)
        last = (config.get("status") or {}).get("lastVersion") or 0
        if request.get("lastVersion") is not None and request["lastVersion"] != last:
            raise errors.bad_request(f"the LastVersion({last}) on build config {namespace}/{name} does not match the "
                                     f"build request LastVersion({request['lastVersion']})")
        number = last + 1
        status = dict(config.get("status") or {}, lastVersion=number)
        api.update(bc_type, namespace, name, dict(config, status=status), Options(user_agent="build-controller"),
                   subresource="status")
        spec = {k: v for k, v in (config.get("spec") or {}).items()
                if k not in ("triggers", "runPolicy", "successfulBuildsHistoryLimit", "failedBuildsHistoryLimit")}
        if request.get("triggeredBy"):
            spec["triggeredBy"] = request["triggeredBy"]  # `oc start-build`: "Manually triggered"
        labels = {"buildconfig": name, "openshift.io/build-config.name": name,
                  "openshift.io/build.start-policy": (config.get("spec") or {}).get("runPolicy", "Serial")}
        labels.update((request.get("metadata") or {}).get("labels") or {})
        build = {
            "apiVersion": "build.openshift.io/v1", "kind": "Build",
            "metadata": {
                "name": f"{name}-{number}", "namespace": namespace, "labels": labels,
                "annotations": {"openshift.io/build-config.name": name, "openshift.io/build.number": str(number)},
                "ownerReferences": [{"apiVersion": "build.openshift.io/v1", "kind": "BuildConfig", "name": name,
                                     "uid": config["metadata"]["uid"], "controller": True}],
            },
            "spec": spec,
        }
        created = api.create(build_type, namespace, build, options)
        status = {"phase": "New", "config": {"kind": "BuildConfig", "namespace": namespace, "name": name}}
        if not options.dry_run:
            created = api.update(build_type, namespace, created["metadata"]["name"], dict(created, status=status),
                                 Options(user_agent="build-controller"), subresource="status")
        return 201, created


class Extensions:
    """Routes for endpoints that are verbs: (method, group, version, resource, with a name?, subresource)."""

    def __init__(self):
        self._routes: dict[tuple[str, str, str, str, str], Endpoint] = {
            ("POST", "", "v1", "pods", "binding"): bind,  # the one core verb the sandbox serves
            ("POST", "template.openshift.io", "v1", "processedtemplates", ""): process_template,
            ("POST", "build.openshift.io", "v1", "buildconfigs", "instantiate"): instantiate_build,
        }

    def endpoint(self, method: str, group: str, version: str, resource: str, subresource: str) -> Endpoint | None:
        return self._routes.get((method, group, version, resource, subresource))

    def match(self, method: str, group: str, version: str, rest: list[str]) -> tuple[Endpoint, str, str] | None:
        if len(rest) < 3 or rest[0] != "namespaces":
            return None
        namespace, resource = rest[1], rest[2]
        name = rest[3] if len(rest) > 3 else ""
        sub = rest[4] if len(rest) > 4 else ""
        if name and not sub:
            return None
        endpoint = self.endpoint(method, group, version, resource, sub)
        if endpoint is None:
            return None
        return endpoint, namespace, name
