# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The access_check module's work: ask the API server, with SelfSubjectAccessReviews (what `kubectl auth can-i`
sends), whether the playbook's identity may do everything a flow will do (access_needs.py), and say everything
that is missing at once, before any change.

A review is an answer, never stored, so it is sent as is in check mode too (not as a dry run).
"""

from __future__ import annotations

from ansible_collections.mlops.mlflow.plugins.module_utils.access_needs import checks, split_resource
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


def run_access_check(module) -> dict:
    params = module.params
    reviews = module.resource("SelfSubjectAccessReview", REVIEW_API)
    missing, checked = [], 0
    for namespace, group, resource, subresource, verb, why in wanted(params):
        answer = reviews.create(body=review_body(namespace, group, resource, subresource, verb)).to_dict()
        checked += 1
        if not (answer.get("status") or {}).get("allowed"):
            missing.append({"namespace": namespace, "verb": verb, "group": group,
                            "resource": resource + ("/" + subresource if subresource else ""),
                            "permission": describe(verb, group, resource, subresource), "why": why})
    result = {"changed": False, "checked": checked, "missing": missing}
    if missing:
        lines = ["%s %s (%s)" % (item["permission"], "in " + item["namespace"] if item["namespace"] else
                                 "at the cluster scope", item["why"]) for item in missing]
        raise CollectionError(
            "the identity running this playbook lacks %d permission(s) that %s needs; nothing was changed. "
            "Missing: %s. A cluster admin grants exactly what the playbooks use with: %s"
            % (len(missing), " and ".join(params["flows"]) or "this task", "; ".join(lines),
               params["grant_hint"]), missing=missing, checked=checked)
    return result
