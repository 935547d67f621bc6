"""Endpoints about the caller's own identity and access, answered by the API server and never stored:

- `selfsubjectaccessreviews` (authorization.k8s.io/v1, `kubectl auth can-i`):
  pkg/registry/authorization/selfsubjectaccessreview/rest.go;
- `selfsubjectrulesreviews` (`kubectl auth can-i --list`): pkg/registry/authorization/selfsubjectrulesreview/rest.go;
- `selfsubjectreviews` (authentication.k8s.io/v1, `kubectl auth whoami`):
  pkg/registry/authentication/selfsubjectreview/rest.go;
- `serviceaccounts/<name>/token` (TokenRequest, `kubectl create token`):
  pkg/registry/core/serviceaccount/storage/token.go.

Each is authorized like any request first (access.py): `create` on the resource (on `serviceaccounts/token` for
a TokenRequest), which system:basic-user grants every authenticated user for the self reviews.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from ..timestamps import format_time
from . import authn, errors, rbac
from .resources import ResourceType

if TYPE_CHECKING:
    from .access import Call

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"


def _kind(group: str, kind: str, plural: str, namespaced: bool = False) -> ResourceType:
    """A kind that is only ever answered (for the error messages that name it)."""
    return ResourceType(group=group, version="v1", kind=kind, plural=plural, namespaced=namespaced,
                        schema_source=None)


ACCESS_REVIEW = _kind(AUTHORIZATION, "SelfSubjectAccessReview", "selfsubjectaccessreviews")
RULES_REVIEW = _kind(AUTHORIZATION, "SelfSubjectRulesReview", "selfsubjectrulesreviews")
SELF_REVIEW = _kind(AUTHENTICATION, "SelfSubjectReview", "selfsubjectreviews")
TOKEN_REQUEST = _kind(AUTHENTICATION, "TokenRequest", "tokenrequests", namespaced=True)
SERVICE_ACCOUNTS = ("", "serviceaccounts")


def _body(call: Call, kind: ResourceType) -> dict[str, Any]:
    body = call.read_body()
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise errors.bad_request(f"the body of a {kind.kind} request must be a JSON object")
    api_version, sent_kind = body.get("apiVersion"), body.get("kind")
    if api_version and api_version != kind.api_version:
        raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                                 f"version ({kind.api_version})")
    if sent_kind and sent_kind != kind.kind:
        raise errors.bad_request(f"the kind in the data ({sent_kind}) does not match the expected kind ({kind.kind})")
    return body


def _answer(kind: ResourceType, spec: dict[str, Any], status: dict[str, Any],
            metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = {"kind": kind.kind, "apiVersion": kind.api_version,
              "metadata": dict(metadata or {}, creationTimestamp=None), "status": status}
    if spec is not None:
        answer["spec"] = spec
    return answer


def access_review(call: Call) -> tuple[int, Any]:
    """Whether the caller may do what `spec` describes (ValidateSelfSubjectAccessReviewSpec, then Authorize)."""
    body = _body(call, ACCESS_REVIEW)
    spec = body.get("spec") or {}
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        raise errors.invalid(ACCESS_REVIEW, "", [{
            "field": "spec.nonResourceAttributes", "reason": "FieldValueInvalid",
            "message": "Invalid value: \"object\": cannot be specified in combination with resourceAttributes"}])
    if resource is None and non_resource is None:
        raise errors.invalid(ACCESS_REVIEW, "", [{
            "field": "spec.resourceAttributes", "reason": "FieldValueInvalid",
            "message": "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must "
                       "be specified"}])
    if resource is not None:
        # authorizationutil.ResourceAttributesFrom: an empty version means every version.
        request = rbac.Attributes(call.user, resource.get("verb", ""), True, resource.get("namespace", ""),
                                  resource.get("group", ""), resource.get("version") or "*",
                                  resource.get("resource", ""), resource.get("subresource", ""),
                                  resource.get("name", ""))
    else:
        request = rbac.Attributes(call.user, non_resource.get("verb", ""), False,
                                  path=non_resource.get("path", ""))
    allowed, reason = call.access.authorizer.authorize(request)
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return 201, _answer(ACCESS_REVIEW, spec, status, body.get("metadata"))


def rules_review(call: Call) -> tuple[int, Any]:
    """What the caller may do in `spec.namespace` (RBAC's RulesFor)."""
    body = _body(call, RULES_REVIEW)
    spec = body.get("spec") or {}
    namespace = spec.get("namespace") or ""
    if not namespace:
        raise errors.bad_request("no namespace on request")
    resource_rules, url_rules, problem = call.access.authorizer.rules_for(call.user, namespace)
    status: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": url_rules, "incomplete": False}
    if problem:
        status["evaluationError"] = problem
    return 201, _answer(RULES_REVIEW, spec, status, body.get("metadata"))


def self_review(call: Call) -> tuple[int, Any]:
    """Who the caller is, as the authenticator saw it."""
    body = _body(call, SELF_REVIEW)
    return 201, _answer(SELF_REVIEW, None, {"userInfo": call.user.user_info()}, body.get("metadata"))


def token_request(call: Call) -> tuple[int, Any]:
    """A token for the ServiceAccount named in the URL (TokenREST.Create)."""
    namespace, name = call.request.namespace, call.request.name
    account = call.api.store.get(SERVICE_ACCOUNTS, namespace, name)
    if account is None:
        raise errors.ApiError(404, "NotFound", f'serviceaccounts "{name}" not found',
                              {"name": name, "kind": "serviceaccounts"})
    body = _body(call, TOKEN_REQUEST)
    spec = dict(body.get("spec") or {})
    expiration = spec.get("expirationSeconds") or authn.DEFAULT_EXPIRATION
    # pkg/apis/authentication/validation/validation.go ValidateTokenRequest
    if not isinstance(expiration, int) or expiration < authn.MIN_EXPIRATION:
        raise errors.invalid(TOKEN_REQUEST, name, [{
            "field": "spec.expirationSeconds", "reason": "FieldValueInvalid",
            "message": f"Invalid value: {expiration}: may not specify a duration less than 10 minutes"}])
    if expiration > 1 << 32:
        raise errors.invalid(TOKEN_REQUEST, name, [{
            "field": "spec.expirationSeconds", "reason": "FieldValueInvalid",
            "message": f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds"}])
    audiences = list(spec.get("audiences") or authn.API_AUDIENCES)
    token, expires = call.access.authenticator.issue(account, audiences, expiration)
    spec.update(audiences=audiences, expirationSeconds=expiration, boundObjectRef=spec.get("boundObjectRef"))
    status = {"token": token,
              "expirationTimestamp": format_time(datetime.datetime.fromtimestamp(expires, datetime.timezone.utc))}
    return 201, _answer(TOKEN_REQUEST, spec, status, {"name": name, "namespace": namespace})


# (group, version, resource, subresource) -> {HTTP method: endpoint}
ROUTES = {
    (AUTHORIZATION, "v1", "selfsubjectaccessreviews", ""): {"POST": access_review},
    (AUTHORIZATION, "v1", "selfsubjectrulesreviews", ""): {"POST": rules_review},
    (AUTHENTICATION, "v1", "selfsubjectreviews", ""): {"POST": self_review},
    ("", "v1", "serviceaccounts", "token"): {"POST": token_request},
}
