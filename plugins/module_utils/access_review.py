# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The access_check module's work: ask the API server whether the playbook's identity may do everything a flow
will do (access_needs.py), and say everything that is missing at once, before any change.

One SelfSubjectRulesReview per namespace (what `kubectl auth can-i --list` sends) gives the rules the identity holds
there; a permission a rule grants is allowed (RBAC only ever adds). Every permission no rule shows - and all of them
when the review is incomplete (an authorizer that cannot list, such as a webhook) - is asked with its own
SelfSubjectAccessReview (what `kubectl auth can-i` sends), whose answer decides. So ~90 permissions cost one
request per namespace when all is granted, and a denial is always the API server's own answer.

A review is an answer, never stored, so it is sent as is in check mode too (not as a dry run).

The OpenShift API groups (route, build, image, template, project: `*.openshift.io`) are used only where the cluster
serves them: on plain Kubernetes the chart renders an Ingress and no build objects, and the flows never call those
APIs. So discovery (`GET /apis`, once) decides: a permission in an OpenShift group the cluster does not serve is
not required, and the result says which were skipped. RBAC accepts rules for groups nothing serves, so a Role from
rbac.yml may still list them (docs/rbac.md).
"""

from __future__ import annotations

import json

from ansible_collections.mlops.mlflow.plugins.module_utils.access_needs import checks, split_resource
from ansible_collections.mlops.mlflow.plugins.module_utils.cluster_prerequisites import run_prerequisites
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

REVIEW_API = "authorization.k8s.io/v1"


def review_body(namespace: str, group: str, resource: str, subresource: str, verb: str) -> dict:
    attributes = {"verb": verb, "group": group, "resource": resource}
    if namespace:
        attributes["namespace"] = namespace
    if subresource:
        attributes["subresource"] = subresource
    return {"apiVersion": REVIEW_API, "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}}


def describe(verb: str, group: str, resource: str, subresource: str) -> str:
    """`create pods/exec`, `patch clusters.postgresql.cnpg.io`: how `kubectl auth can-i` names them."""
    name = resource + ("/" + subresource if subresource else "")
    return "%s %s%s" % (verb, name, "." + group if group else "")


def wanted(params: dict) -> list:
    """(namespace, group, resource, subresource, verb, why) from the flows in each namespace, and the extra rules
    asked for (a cluster-scoped one once, with the empty namespace)."""
    found = [(namespace,) + item for namespace in params["namespaces"] for item in checks(params["flows"])]
    seen = {item[:5] for item in found}
    for rule in params["rules"] or []:
        name, subresource = split_resource(rule["resource"])
        for namespace in [""] if rule["cluster_scoped"] else params["namespaces"]:
            for verb in rule["verbs"]:
                key = (namespace, rule["group"], name, subresource, verb)
                if key not in seen:
                    seen.add(key)
                    found.append(key + (rule.get("why") or "asked for",))
    return found


def _matches(values: list, wanted: str) -> bool:
    return "*" in values or wanted in values


def rule_grants(rule: dict, group: str, resource: str, subresource: str, verb: str) -> bool:
    """Whether a ResourceRule allows the request on any object (RBAC's rule matching; a rule narrowed to
    resourceNames does not count)."""
    if rule.get("resourceNames"):
        return False
    if not (_matches(rule.get("verbs") or [], verb) and _matches(rule.get("apiGroups") or [], group)):
        return False
    resources = rule.get("resources") or []
    combined = resource + ("/" + subresource if subresource else "")
    return "*" in resources or combined in resources or bool(subresource and "*/" + subresource in resources)


def held_rules(module, namespace: str) -> list:
    """The ResourceRules a SelfSubjectRulesReview shows the identity holds in `namespace` (what it lists is granted;
    an incomplete review lists less, and the rest is asked one by one). None at the cluster scope, which the review
    does not answer."""
    if not namespace:
        return []
    reviews = module.resource("SelfSubjectRulesReview", REVIEW_API)
    body = {"apiVersion": REVIEW_API, "kind": "SelfSubjectRulesReview", "spec": {"namespace": namespace}}
    return (reviews.create(body=body).to_dict().get("status") or {}).get("resourceRules") or []


def optional_group(group: str) -> bool:
    """A group the flows use only when the cluster serves it (OpenShift's)."""
    return group.endswith(".openshift.io")


def served_groups(module) -> set:
    """The API groups the cluster serves (APIGroupList at /apis; the core group always)."""
    response = module.client.client.request("get", "/apis", serialize=False)
    listing = json.loads(response.data.decode("utf-8"))
    return {""} | {group.get("name") for group in listing.get("groups") or []}


def run_access_check(module) -> dict:
    params = module.params
    # The cluster's prerequisites first, in the same process (each module call is a Python start and a client).
    found = run_prerequisites(module) if params.get("prerequisites") else {}
    reviews = module.resource("SelfSubjectAccessReview", REVIEW_API)
    missing, checked, asked, rules, skipped = [], 0, 0, {}, {}
    served = served_groups(module)
    for namespace, group, resource, subresource, verb, why in wanted(params):
        if optional_group(group) and group not in served:
            skipped[group] = skipped.get(group, 0) + 1  # the flows skip these kinds on this cluster
            continue
        checked += 1
        if namespace not in rules:
            rules[namespace] = held_rules(module, namespace)
        if any(rule_grants(rule, group, resource, subresource, verb) for rule in rules[namespace]):
            continue
        asked += 1
        answer = reviews.create(body=review_body(namespace, group, resource, subresource, verb)).to_dict()
        if not (answer.get("status") or {}).get("allowed"):
            missing.append({"namespace": namespace, "verb": verb, "group": group,
                            "resource": resource + ("/" + subresource if subresource else ""),
                            "permission": describe(verb, group, resource, subresource), "why": why})
    result = {key: found[key] for key in ("kubernetes_version", "apis") if key in found}
    result.update(changed=False, checked=checked, access_reviews=asked, missing=missing,
                  skipped_unserved=[{"group": group, "permissions": count} for group, count in sorted(skipped.items())])
    if missing:
        lines = ["%s %s (%s)" % (item["permission"], "in " + item["namespace"] if item["namespace"] else
                                 "at the cluster scope", item["why"]) for item in missing]
        raise CollectionError(
            "the identity running this playbook lacks %d permission(s) that %s needs; nothing was changed. "
            "Missing: %s. A cluster admin grants exactly what the playbooks use with: %s"
            % (len(missing), " and ".join(params["flows"]) or "this task", "; ".join(lines),
               params["grant_hint"]), missing=missing, checked=checked,
            skipped_unserved=result["skipped_unserved"])
    return result
