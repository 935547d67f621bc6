"""Who may do what, before anything else happens to a request: kube-apiserver's authentication and authorization
filters (staging/src/k8s.io/apiserver/pkg/endpoints/filters/authentication.go, authorization.go), and the endpoints
that answer questions about identity and access (reviews.py, projects.py).

`Access.admit` authenticates the caller (authn.py), turns the URL into authorization attributes as
staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go does, and asks the authorizer (rbac.py); a
denial is the upstream 403. `Access.serve` answers the endpoints that are verbs rather than stored kinds.

RBAC writes also pass the RBAC storage's privilege-escalation check (rbac.py `Authorizer.prevent_escalation`):
`Access` puts it in front of the API's per-kind hooks, where the object to be stored (after any patch or apply)
and the stored one are known, for the request being served (`_CALLER`). Writes the server makes on its own behalf
(the controllers, a ProjectRequest's RoleBinding) have no caller and are not checked, as the loopback client of
`system:masters` is not.
"""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import authn, errors, projects, rbac, reviews
from .operations import Api

_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}
_SPECIAL_VERBS = ("proxy", "watch")  # /api/v1/watch/..., /api/v1/proxy/... (deprecated forms)
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
# The request an HTTP handler thread is serving (None outside requests and in the server's own writes).
_CALLER: contextvars.ContextVar[rbac.Attributes | None] = contextvars.ContextVar("sandbox_caller", default=None)
# Avoid messages that look like HTML (responsewriters/errors.go `sanitizer`).
_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _valid_segment(name: str) -> bool:
    """path.IsValidPathSegmentName."""
    return name not in (".", "..") and "/" not in name and "%" not in name


def _exact_name(field_selector: str) -> str:
    """fields.Selector.RequiresExactMatch("metadata.name"): the name a list or watch is narrowed to."""
    for term in field_selector.split(","):
        for operator in ("==", "="):
            key, found, value = term.partition(operator)
            if found and key.strip() == "metadata.name":  # `metadata.name!=x` leaves `metadata.name!`
                return value.strip()
    return ""


def request_attributes(user: authn.Identity, method: str, url: str) -> rbac.Attributes:
    """RequestInfoFactory.NewRequestInfo, plus OpenShift's rule that a project's namespace is its name."""
    split = urlsplit(url)
    path = split.path
    parts = path.strip("/").split("/") if path.strip("/") else []
    non_resource = rbac.Attributes(user, method.lower(), resource_request=False, path=path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    rest, group = parts[1:], ""
    if parts[0] == "apis":
        if len(rest) < 3:
            return non_resource
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    verb = _METHOD_VERBS.get(method, "")
    if rest[0] in _SPECIAL_VERBS and len(rest) > 1:
        verb, rest = rest[0], rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 and verb != "proxy" else ""
    query = parse_qs(split.query, keep_blank_values=True)
    if not name and verb == "get":
        watch = (query.get("watch") or [""])[0].lower()
        verb = "watch" if "watch" in query and watch not in ("false", "0") else "list"
        narrowed = _exact_name((query.get("fieldSelector") or [""])[0])
        if narrowed and _valid_segment(narrowed):
            name = narrowed
    if not name and verb == "delete":
        verb = "deletecollection"
    if resource == "projects" and group in ("", projects.GROUP) and name:
        namespace = name  # openshift-apiserver's projectRequestInfoResolver
    return rbac.Attributes(user, verb, True, namespace, group, version, resource, subresource, name, path)


def forbidden_message(request: rbac.Attributes) -> str:
    """responsewriters.forbiddenMessage."""
    user = request.user.name
    if not request.resource_request:
        return f'User "{user}" cannot {request.verb} path "{request.path}"'
    resource = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
    where = f'in the namespace "{request.namespace}"' if request.namespace else "at the cluster scope"
    return (f'User "{user}" cannot {request.verb} resource "{resource}" in API group "{request.api_group}" '
            f"{where}")


def forbidden(request: rbac.Attributes, reason: str) -> errors.ApiError:
    """responsewriters.Forbidden: apierrors.NewForbidden(group resource, name, message[: reason])."""
    message = forbidden_message(request).translate(_SANITIZE)
    if reason:
        message = f"{message}: {reason}"
    if not request.resource_request or not request.resource:
        return errors.ApiError(403, "Forbidden", f"forbidden: {message}")
    qualified = f"{request.resource}.{request.api_group}" if request.api_group else request.resource
    details: dict[str, Any] = {"kind": request.resource}
    if request.api_group:
        details["group"] = request.api_group
    if request.name:
        details["name"] = request.name
        return errors.ApiError(403, "Forbidden", f'{qualified} "{request.name}" is forbidden: {message}', details)
    return errors.ApiError(403, "Forbidden", f"{qualified} is forbidden: {message}", details)


@dataclass
class Call:
    """One call of an endpoint: who asks, what the URL named, and the body (decoded on demand)."""

    api: Api
    access: Access
    request: rbac.Attributes
    method: str
    read_body: Callable[[], Any]

    @property
    def user(self) -> authn.Identity:
        return self.request.user


Endpoint = Callable[[Call], tuple[int, Any]]


class _PolicyBasedStorage:
    """The API's per-kind hooks (strategies.py), with kube-apiserver's policy-based RBAC storage in front for the
    four RBAC kinds: `prepare_create`/`prepare_update` see the object about to be stored, whatever the verb."""

    def __init__(self, inner: Any, authorizer: rbac.Authorizer):
        self._inner = inner
        self._authorizer = authorizer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _check(self, resource: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Check the create or update of the object the caller's request names (not what the server writes on
        its own in the same thread, nor a delete's bookkeeping)."""
        request = _CALLER.get()
        if request is None or resource.group != rbac.RBAC_GROUP or \
                resource.plural not in (*rbac.ROLE_RESOURCES, *rbac.BINDING_RESOURCES):
            return
        meta = obj.get("metadata") or {}
        if request.verb not in ("create", "update", "patch") or not request.resource_request or \
                (request.api_group, request.resource, request.subresource) != (*resource.key, "") or \
                request.name not in ("", meta.get("name")) or \
                (resource.namespaced and request.namespace != meta.get("namespace")):
            return
        self._authorizer.prevent_escalation(request, resource.plural, obj, old)

    def prepare_create(self, resource: Any, obj: dict[str, Any]) -> None:
        self._check(resource, obj, None)
        self._inner.prepare_create(resource, obj)

    def prepare_update(self, resource: Any, obj: dict[str, Any], old: dict[str, Any]) -> None:
        self._check(resource, obj, old)
        self._inner.prepare_update(resource, obj, old)


class Access:
    """The authenticator, the authorizer and the identity endpoints of one API server."""

    def __init__(self, api: Api, key_file: Path | None = None):
        self.api = api
        # Who a request without credentials is: the kubeconfig's user on the plain HTTP port (see authn.py).
        self.unauthenticated = authn.ADMIN
        self.authenticator = authn.Authenticator(api.store, authn.signing_key(key_file))
        self.authorizer = rbac.authorizer_for(api.store)
        if not isinstance(api.strategies, _PolicyBasedStorage):
            api.strategies = _PolicyBasedStorage(api.strategies, self.authorizer)
        # (group, version, resource, subresource) -> {method: endpoint}
        self._routes: dict[tuple[str, str, str, str], dict[str, Endpoint]] = {}
        for routes in (reviews.ROUTES, projects.ROUTES):
            for key, methods in routes.items():
                self._routes.setdefault(key, {}).update(methods)

    def secure(self) -> Access:
        """The same access for the TLS port, where a request without credentials is `system:anonymous`."""
        secure = copy.copy(self)
        secure.unauthenticated = authn.ANONYMOUS
        return secure

    def admit(self, method: str, url: str, authorization: str | None) -> rbac.Attributes:
        """Authenticate and authorize one request (401/403 as ApiError); its attributes name the caller."""
        _CALLER.set(None)
        user = self.authenticator.authenticate(authorization, self.unauthenticated)
        request = request_attributes(user, method, url)
        allowed, reason = self.authorizer.authorize(request)
        if not allowed:
            raise forbidden(request, reason)
        _CALLER.set(request)  # what the RBAC storage checks this request's writes against
        return request

    def allowed(self, request: rbac.Attributes) -> bool:
        return self.authorizer.authorize(request)[0]

    def serve(self, request: rbac.Attributes, method: str, read_body: Callable[[], Any]) -> tuple[int, Any] | None:
        """The answer of an identity endpoint, or None when the request is for the generic API."""
        if not request.resource_request:
            return None
        methods = self._routes.get((request.api_group, request.api_version, request.resource, request.subresource))
        if methods is None:
            return None
        endpoint = methods.get(method)
        if endpoint is None:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        caller = _CALLER.set(None)  # the endpoints write as the server (openshift-apiserver's privileged client)
        try:
            return endpoint(Call(self.api, self, request, method, read_body))
        finally:
            _CALLER.reset(caller)
