"""Authorization as kube-apiserver decides it: the privileged-group authorizer (`system:masters` may do anything,
pkg/kubeapiserver/authorizer/config.go), then RBAC (plugin/pkg/auth/authorizer/rbac/rbac.go) over the stored
Roles, ClusterRoles, RoleBindings and ClusterRoleBindings, with the rule matching of
pkg/apis/rbac/v1/evaluation_helpers.go and the binding walk of pkg/registry/rbac/validation/rule.go.

Aggregated ClusterRoles (admin, edit, view) are evaluated by their stored `rules`, which the clusterrole-aggregation
controller keeps up to date (sandbox/controllers/clusterroles.py), as on a cluster.

RBAC writes are checked for privilege escalation as the RBAC storage does (`Authorizer.prevent_escalation`, see
"privilege-escalation prevention" below; access.py calls it for the request being served).

Authorization runs on every request: bindings are indexed by subject and each role's rules compiled once; the index
is rebuilt after any RBAC object changes (the store tells us), and the grants of one user in one namespace are cached
until then.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any

from . import errors
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


# --- privilege-escalation prevention on RBAC writes ---------------------------------------------------------------
#
# kube-apiserver's RBAC storage refuses a Role, ClusterRole, RoleBinding or ClusterRoleBinding that would grant its
# writer more than the writer holds (pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased/
# storage.go): a member of `system:masters` may write anything (pkg/registry/rbac/escalation_check.go
# EscalationAllowed); a Role or ClusterRole is allowed with `escalate` on roles/clusterroles
# (RoleEscalationAuthorized), a binding with `bind` on the role it names, checked in the binding's namespace
# (BindingAuthorized); otherwise the writer's own rules must cover every rule granted (pkg/registry/rbac/validation/
# rule.go ConfirmNoEscalation, with the rule comparison of staging/src/k8s.io/component-helpers/auth/rbac/
# validation/policy_comparator.go Covers, the missing rules compacted by pkg/registry/rbac/validation/
# policy_compact.go and printed by pkg/apis/rbac/v1/helpers.go CompactString). A ClusterRole with an aggregationRule
# (set, or set before the update) needs `*` on everything besides. Updates that change only ownerReferences,
# finalizers or selfLink are not checked (pkg/registry/rbac/helpers.go IsOnlyMutatingGCFields).

ROLE_RESOURCES = ("roles", "clusterroles")
BINDING_RESOURCES = ("rolebindings", "clusterrolebindings")
# clusterrole/policybased/storage.go fullAuthority: what the aggregationRule asks for.
_FULL_AUTHORITY = ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]})
_NOBODY = Identity("")


def escalation_allowed(user: Identity) -> bool:
    """escalation_check.go EscalationAllowed: `system:masters` may always write RBAC objects."""
    return MASTERS in user.groups


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _breakdown(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """policy_comparator.go BreakdownRule: one rule per group, resource, verb (and resourceName), then one per
    non-resource URL and verb."""
    names, verbs = _strings(rule.get("resourceNames")), _strings(rule.get("verbs"))
    broken: list[dict[str, Any]] = []
    for group in _strings(rule.get("apiGroups")):
        for resource in _strings(rule.get("resources")):
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                broken.extend([dict(base, resourceNames=[name]) for name in names] if names else [base])
    for url in _strings(rule.get("nonResourceURLs")):
        broken.extend({"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs)
    return broken


def _rule_covers(owner: Rule, subrule: dict[str, Any]) -> bool:
    """policy_comparator.go ruleCovers for a broken-down rule, through the authorizer's own matching (Rule.allows):
    the sub-rule is covered when the owner rule would allow it as a request - except that a sub-rule without a
    resourceName needs an owner rule without resourceNames."""
    verb = subrule["verbs"][0]
    name = (subrule.get("resourceNames") or [""])[0]
    if owner.names and not name:
        return False
    if "nonResourceURLs" in subrule:
        return owner.allows(Attributes(_NOBODY, verb, resource_request=False, path=subrule["nonResourceURLs"][0]))
    resource = subrule["resources"][0]
    base, slash, subresource = resource.partition("/")
    if slash and not subresource:  # `pods/`: resourceCoversAll's `*/` + "" (no request has that shape)
        return bool({"*", resource, "*/"} & owner.resources)
    return owner.allows(Attributes(_NOBODY, verb, True, "", subrule["apiGroups"][0], "", base, subresource, name))


def covers(owner_rules: tuple[Rule, ...] | list[Rule], rules: Any) -> list[dict[str, Any]]:
    """policy_comparator.go Covers: the broken-down rules of `rules` no owner rule covers (empty: all covered)."""
    wanted = [sub for rule in (rules if isinstance(rules, list | tuple) else ()) if isinstance(rule, dict)
              for sub in _breakdown(rule)]
    return [sub for sub in wanted if not any(_rule_covers(owner, sub) for owner in owner_rules)]


def compact_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """policy_compact.go CompactRules: rules of one group and one resource (nothing else) merged, verbs appended."""
    compacted: list[dict[str, Any]] = []
    simple: dict[tuple[str, str], dict[str, Any]] = {}
    for rule in rules:
        if set(rule) <= {"apiGroups", "resources", "verbs"} and len(rule.get("apiGroups") or ()) == 1 and \
                len(rule.get("resources") or ()) == 1:
            key = (rule["apiGroups"][0], rule["resources"][0])
            if key in simple:
                simple[key]["verbs"].extend(rule.get("verbs") or [])
            else:
                simple[key] = {"apiGroups": list(rule["apiGroups"]), "resources": list(rule["resources"]),
                               "verbs": list(rule.get("verbs") or [])}
        else:
            compacted.append(rule)
    return compacted + list(simple.values())


def _go_quote(value: str | list[str] | tuple[str, ...]) -> str:
    """Go's %q: a quoted string, or a slice of them as `["a" "b"]`."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return "[" + " ".join(_go_quote(item) for item in value) + "]"


def compact_string(rule: dict[str, Any]) -> str:
    """pkg/apis/rbac/v1/helpers.go CompactString: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`."""
    parts = [f"{label}:{_go_quote(rule[field])}" for label, field in (
        ("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"), ("Verbs", "verbs")) if rule.get(field)]
    return "{" + ", ".join(parts) + "}"


def _storage_error(message: str) -> str:
    """The role resolver of the RBAC storage reads roles through their registries, whose NotFound names the plural
    (`clusterroles.rbac.authorization.k8s.io "x" not found`), where the authorizer's listers say `clusterrole.`."""
    for singular in ("clusterrole", "role"):
        message = message.replace(f'{singular}.{RBAC_GROUP} "', f'{singular}s.{RBAC_GROUP} "')
    return message


def _forbidden(plural: str, name: str, why: str) -> errors.ApiError:
    """apierrors.NewForbidden(rbac.Resource(plural), name, err)."""
    qualified = f"{plural}.{RBAC_GROUP}"
    details = {"group": RBAC_GROUP, "kind": plural, **({"name": name} if name else {})}
    target = f'{qualified} "{name}"' if name else qualified
    return errors.ApiError(403, "Forbidden", f"{target} is forbidden: {why}", details)


def _semantic(value: Any) -> Any:
    """Equalities.DeepEqual's view of a value: an empty list or map is the same as none."""
    if isinstance(value, dict):
        return {key: _semantic(item) for key, item in value.items() if item not in (None, [], {})}
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def only_gc_fields_change(obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """pkg/registry/rbac/helpers.go IsOnlyMutatingGCFields: equal once ownerReferences, finalizers and selfLink
    are taken from the old object."""
    if not old:
        return False
    copied = dict(obj, metadata=dict(obj.get("metadata") or {}))
    old_meta = old.get("metadata") or {}
    for gc_field in ("ownerReferences", "finalizers", "selfLink"):
        copied["metadata"].pop(gc_field, None)
        if gc_field in old_meta:
            copied["metadata"][gc_field] = old_meta[gc_field]
    return _semantic(copied) == _semantic(old)


def _has_aggregation_rule(role: dict[str, Any] | None) -> bool:
    """clusterrole/policybased/storage.go hasAggregationRule."""
    return bool(((role or {}).get("aggregationRule") or {}).get("clusterRoleSelectors"))


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

    # --- the policy-based RBAC storage (see "privilege-escalation prevention" above) ------------------------------

    def confirm_no_escalation(self, user: Identity, namespace: str, rules: Any) -> str:
        """validation/rule.go ConfirmNoEscalation: "" when the user's rules in `namespace` (RulesFor) cover `rules`,
        else the error's text."""
        owner_rules: list[Rule] = []
        problems = []
        for grant in self._current().grants_for(user, namespace):
            if grant.error:
                problems.append(grant.error)
            owner_rules.extend(grant.rules)
        missing = covers(owner_rules, rules)
        if not missing:
            return ""
        held = "\n".join(sorted({compact_string(rule) for rule in compact_rules(missing)}))
        message = (f"user {_go_quote(user.name)} (groups={_go_quote(user.groups)}) is attempting to grant RBAC "
                   f"permissions not currently held:\n{held}")
        if problems:
            message += f"; resolution errors: [{_storage_error(_aggregate(problems))}]"
        return message

    def _role_escalation_authorized(self, request: Attributes) -> bool:
        """escalation_check.go RoleEscalationAuthorized: `escalate` on the roles or clusterroles of the request
        (its name and namespace as the URL has them: none on a create)."""
        if not request.resource_request or request.api_group != RBAC_GROUP or request.resource not in ROLE_RESOURCES:
            return False
        return self.authorize(Attributes(request.user, "escalate", True, request.namespace, request.api_group, "*",
                                         request.resource, "", request.name))[0]

    def _binding_authorized(self, user: Identity, ref: dict[str, Any], namespace: str) -> bool:
        """escalation_check.go BindingAuthorized: `bind` on the role named, in the binding's namespace (none for a
        ClusterRoleBinding)."""
        resource = {"ClusterRole": "clusterroles", "Role": "roles"}.get(ref.get("kind"))
        if resource is None:
            return False
        return self.authorize(Attributes(user, "bind", True, namespace, ref.get("apiGroup", ""), "", resource, "",
                                         ref.get("name", "")))[0]

    def _role_reference_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
        """DefaultRuleResolver.GetRoleReferenceRules through the registries: the role's rules, its NotFound, or the
        plain error of an unknown kind (an internal error: validation comes after the storage's check)."""
        kind, name, index = ref.get("kind"), ref.get("name", ""), self._current()
        if kind == "ClusterRole":
            plural, rules = "clusterroles", index.cluster_roles.get(name)
        elif kind == "Role":
            plural, rules = "roles", index.roles.get((namespace, name))
        else:
            message = f"unsupported role reference kind: {_go_quote(str(kind))}"
            raise errors.ApiError(500, "InternalError", f"Internal error occurred: {message}",
                                  {"causes": [{"message": message}]})
        if rules is None:
            raise errors.ApiError(404, "NotFound", f'{plural}.{RBAC_GROUP} "{name}" not found',
                                  {"name": name, "group": RBAC_GROUP, "kind": plural})
        return [rule.raw for rule in rules]

    def prevent_escalation(self, request: Attributes, resource: str, obj: dict[str, Any],
                           old: dict[str, Any] | None) -> None:
        """The policy-based storage of the four RBAC kinds (`resource` is the plural), around the create (`old` is
        None) or update of `obj` that `request` asked for: nothing when allowed, else the 403 (or the role
        reference's 404) - role/, clusterrole/, rolebinding/ and clusterrolebinding/policybased/storage.go."""
        user = request.user
        if escalation_allowed(user) or only_gc_fields_change(obj, old):
            return
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        namespace = meta.get("namespace", "") if resource in ("roles", "rolebindings") else ""
        if resource in ROLE_RESOURCES:
            if self._role_escalation_authorized(request):
                return
            why = self.confirm_no_escalation(user, namespace, obj.get("rules") or [])
            if why:
                raise _forbidden(resource, name, why)
            # To set (or drop) an aggregationRule, which can gather anything, takes `*` on everything.
            if resource == "clusterroles" and (_has_aggregation_rule(obj) or _has_aggregation_rule(old)) and \
                    self.confirm_no_escalation(user, namespace, list(_FULL_AUTHORITY)):
                raise _forbidden(resource, name, "must have cluster-admin privileges to use the aggregationRule")
            return
        ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
        if self._binding_authorized(user, ref, namespace):
            return
        why = self.confirm_no_escalation(user, namespace, self._role_reference_rules(ref, namespace))
        if why:
            raise _forbidden(resource, name, why)


_AUTHORIZERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def authorizer_for(store: Any) -> Authorizer:
    """The one authorizer of `store`, shared by the HTTP server and the controllers' clients."""
    with store.lock:
        found = _AUTHORIZERS.get(store)
        if found is None:
            found = _AUTHORIZERS[store] = Authorizer(store)
        return found
