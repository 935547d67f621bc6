"""Authorization as kube-apiserver decides it: the privileged-group authorizer (`system:masters` may do anything,
pkg/kubeapiserver/authorizer/config.go), then RBAC (plugin/pkg/auth/authorizer/rbac/rbac.go) over the stored
Roles, ClusterRoles, RoleBindings and ClusterRoleBindings, with the rule matching of
pkg/apis/rbac/v1/evaluation_helpers.go and the binding walk of pkg/registry/rbac/validation/rule.go.

Aggregated ClusterRoles (admin, edit, view) are evaluated by their stored `rules`, which the clusterrole-aggregation
controller keeps up to date (sandbox/controllers/clusterroles.py), as on a cluster.

Authorization runs on every request: bindings are indexed by subject and each role's rules compiled once; the index
is rebuilt after any RBAC object changes (the store tells us), and the grants of one user in one namespace are cached
until then.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from .authn import MASTERS, SERVICE_ACCOUNT_PREFIX, Identity

RBAC_GROUP = "rbac.authorization.k8s.io"
_KEYS = {(RBAC_GROUP, plural) for plural in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")}
_CACHE_LIMIT = 4096  # (user, namespace) entries before the cache starts over


@dataclass(frozen=True)
class Attributes:  # pylint: disable=too-many-instance-attributes  # authorizer.Attributes
    """What one request asks to do (k8s.io/apiserver/pkg/authorization/authorizer.AttributesRecord)."""

    user: Identity
    verb: str
    resource_request: bool = True
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


class Rule:
    """One PolicyRule, compiled for matching (pkg/apis/rbac/v1/evaluation_helpers.go)."""

    __slots__ = ("raw", "verbs", "groups", "resources", "names", "urls")

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self.verbs = frozenset(raw.get("verbs") or ())
        self.groups = frozenset(raw.get("apiGroups") or ())
        self.resources = frozenset(raw.get("resources") or ())
        self.names = frozenset(raw.get("resourceNames") or ())
        self.urls = tuple(raw.get("nonResourceURLs") or ())

    def allows(self, request: Attributes) -> bool:
        """RuleAllows: verb, then group, resource (`*`, exact, or `*/<subresource>`) and name - or the URL."""
        if "*" not in self.verbs and request.verb not in self.verbs:
            return False
        if not request.resource_request:
            return any(url == "*" or url == request.path or (url.endswith("*") and
                                                                request.path.startswith(url.rstrip("*")))
                       for url in self.urls)
        if "*" not in self.groups and request.api_group not in self.groups:
            return False
        resources = self.resources
        if request.subresource:
            combined = f"{request.resource}/{request.subresource}"
            if not ("*" in resources or combined in resources or f"*/{request.subresource}" in resources):
                return False
        elif not ("*" in resources or request.resource in resources):
            return False
        return not self.names or request.name in self.names


@dataclass(frozen=True)
class Grant:
    """The rules one binding gives (or the error resolving its role), with the binding described as RBAC's
    reasons describe it: `RoleBinding "admin/team-a" of ClusterRole "admin" to ServiceAccount "ci/team-a"`."""

    source: str
    rules: tuple[Rule, ...] = ()
    error: str = ""


def _subject_user(subject: dict[str, Any], binding_namespace: str) -> tuple[str, str] | None:
    """The (User|Group, name) a subject matches (rule.go appliesToUser: a ServiceAccount is the user
    `system:serviceaccount:<ns>:<name>`, its namespace defaulting to the binding's)."""
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind in ("User", "Group"):
        return kind, name
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return ("User", f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}") if namespace else None
    return None


def _describe_subject(subject: dict[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name", "")}/{subject.get("namespace") or binding_namespace}"'
    return f'{subject.get("kind")} "{subject.get("name", "")}"'


class _Index:
    """Roles compiled and bindings indexed by subject, as stored at one moment."""

    def __init__(self, store: Any):
        def listed(plural: str) -> list[dict[str, Any]]:
            return store.list((RBAC_GROUP, plural))[0]

        self.cluster_roles = {r["metadata"]["name"]: tuple(Rule(x) for x in r.get("rules") or ())
                              for r in listed("clusterroles")}
        self.roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): tuple(Rule(x) for x in r.get("rules") or ())
                      for r in listed("roles")}
        # subject -> [(binding name, binding, index of the first subject that matches)]
        self.cluster_bindings: dict[tuple[str, str], list[tuple[str, dict, int]]] = {}
        self.namespace_bindings: dict[str, dict[tuple[str, str], list[tuple[str, dict, int]]]] = {}
        for binding in listed("clusterrolebindings"):
            self._add(self.cluster_bindings, binding, "")
        for binding in listed("rolebindings"):
            namespace = binding["metadata"]["namespace"]
            self._add(self.namespace_bindings.setdefault(namespace, {}), binding, namespace)
        self.grants: dict[tuple[str, tuple[str, ...], str], tuple[Grant, ...]] = {}

    @staticmethod
    def _add(index: dict, binding: dict[str, Any], namespace: str) -> None:
        for position, subject in enumerate(binding.get("subjects") or ()):
            key = _subject_user(subject, namespace)
            if key is not None:
                index.setdefault(key, []).append((binding["metadata"]["name"], binding, position))

    def _bindings(self, index: dict, user: Identity) -> list[tuple[dict, int]]:
        """The bindings naming `user` (by name, group or ServiceAccount), each once, in name order."""
        found: dict[str, tuple[dict, int]] = {}
        for key in (("User", user.name), *(("Group", group) for group in user.groups)):
            for name, binding, position in index.get(key, ()):
                if name not in found or position < found[name][1]:
                    found[name] = (binding, position)
        return [found[name] for name in sorted(found)]

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> tuple[tuple[Rule, ...] | None, str]:
        name = ref.get("name", "")
        if ref.get("kind") == "ClusterRole":
            rules = self.cluster_roles.get(name)
            return rules, "" if rules is not None else f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        if ref.get("kind") == "Role" and namespace:
            rules = self.roles.get((namespace, name))
            return rules, "" if rules is not None else f'role.rbac.authorization.k8s.io "{name}" not found'
        return None, f"unsupported role reference kind: {ref.get('kind')!r}"

    def grants_for(self, user: Identity, namespace: str) -> tuple[Grant, ...]:
        """VisitRulesFor: the ClusterRoleBindings, then (for a namespaced request) the namespace's RoleBindings."""
        key = (user.name, user.groups, namespace)
        cached = self.grants.get(key)
        if cached is not None:
            return cached
        grants = []
        for binding, position in self._bindings(self.cluster_bindings, user):
            ref = binding.get("roleRef") or {}
            rules, error = self._role_rules(ref, "")
            source = (f'ClusterRoleBinding "{binding["metadata"]["name"]}" of {ref.get("kind")} "{ref.get("name")}" '
                      f'to {_describe_subject(binding["subjects"][position], "")}')
            grants.append(Grant(source, rules or (), error))
        if namespace:
            for binding, position in self._bindings(self.namespace_bindings.get(namespace, {}), user):
                ref = binding.get("roleRef") or {}
                rules, error = self._role_rules(ref, namespace)
                source = (f'RoleBinding "{binding["metadata"]["name"]}/{namespace}" of {ref.get("kind")} '
                          f'"{ref.get("name")}" to {_describe_subject(binding["subjects"][position], namespace)}')
                grants.append(Grant(source, rules or (), error))
        if len(self.grants) > _CACHE_LIMIT:
            self.grants.clear()
        self.grants[key] = result = tuple(grants)
        return result


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several de-duplicated in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class Authorizer:
    """The authorizer of one store's RBAC objects; `authorizer_for(store)` shares one per store."""

    def __init__(self, store: Any):
        self._store = store
        self._index: _Index | None = None
        store.subscribe(self._on_change)

    def _on_change(self, event: Any) -> None:
        if event.key in _KEYS:
            self._index = None  # called under the store lock: the next request rebuilds

    def _current(self) -> _Index:
        index = self._index
        if index is None:
            with self._store.lock:  # no RBAC change can slip in between the four lists
                if self._index is None:
                    self._index = _Index(self._store)
                index = self._index
        return index

    def authorize(self, request: Attributes) -> tuple[bool, str]:
        """(allowed, reason) with RBAC's reasons: `RBAC: allowed by ...`, or on a denial the errors met."""
        if MASTERS in request.user.groups:
            return True, ""
        problems = []
        for grant in self._current().grants_for(request.user, request.namespace):
            if grant.error:
                problems.append(grant.error)
            for rule in grant.rules:
                if rule.allows(request):
                    return True, f"RBAC: allowed by {grant.source}"
        return False, f"RBAC: {_aggregate(problems)}" if problems else ""

    def rules_for(self, user: Identity, namespace: str) -> tuple[list[dict], list[dict], str]:
        """RBACAuthorizer.RulesFor (for SelfSubjectRulesReview): resource rules, non-resource rules, and the
        evaluation error."""
        resource_rules, url_rules, problems = [], [], []
        for grant in self._current().grants_for(user, namespace):
            if grant.error:
                problems.append(grant.error)
            for rule in grant.rules:
                raw = rule.raw
                if raw.get("resources"):
                    entry = {"verbs": list(raw.get("verbs") or []), "apiGroups": list(raw.get("apiGroups") or []),
                             "resources": list(raw["resources"])}
                    if raw.get("resourceNames"):
                        entry["resourceNames"] = list(raw["resourceNames"])
                    resource_rules.append(entry)
                if raw.get("nonResourceURLs"):
                    url_rules.append({"verbs": list(raw.get("verbs") or []),
                                      "nonResourceURLs": list(raw["nonResourceURLs"])})
        return resource_rules, url_rules, _aggregate(problems) if problems else ""


_AUTHORIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def authorizer_for(store: Any) -> Authorizer:
    """The one authorizer of `store`, shared by the HTTP server and the controllers' clients."""
    with store.lock:
        found = _AUTHORIZERS.get(store)
        if found is None:
            found = _AUTHORIZERS[store] = Authorizer(store)
        return found
