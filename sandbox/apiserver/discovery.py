"""Discovery documents: `/version`, `/api`, `/apis` and one APIResourceList per group-version.

Served in the legacy (unaggregated) form; clients asking for aggregated discovery fall back to it on seeing a
plain `application/json` answer, as they do against older servers.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..paths import KUBERNETES_VERSION
from .resources import Registry, ResourceType

_SUBRESOURCE_VERBS = ["get", "patch", "update"]

# Endpoints that are not stored kinds: (group, version) -> APIResource entries.
EXTRA_RESOURCES = {
    ("", "v1"): [
        {"name": "pods/binding", "singularName": "", "namespaced": True, "kind": "Binding", "verbs": ["create"]},
        {"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions",
         "verbs": ["create", "get"]},
        {"name": "serviceaccounts/token", "singularName": "", "namespaced": True, "group": "authentication.k8s.io",
         "version": "v1", "kind": "TokenRequest", "verbs": ["create"]},
    ],
    # Answered by access.py (reviews.py, projects.py), never stored.
    ("authorization.k8s.io", "v1"): [
        {"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview", "namespaced": False,
         "kind": "SelfSubjectAccessReview", "verbs": ["create"]},
        {"name": "selfsubjectrulesreviews", "singularName": "selfsubjectrulesreview", "namespaced": False,
         "kind": "SelfSubjectRulesReview", "verbs": ["create"]},
    ],
    ("authentication.k8s.io", "v1"): [
        {"name": "selfsubjectreviews", "singularName": "selfsubjectreview", "namespaced": False,
         "kind": "SelfSubjectReview", "verbs": ["create"]},
    ],
    ("project.openshift.io", "v1"): [
        {"name": "projectrequests", "singularName": "projectrequest", "namespaced": False, "kind": "ProjectRequest",
         "verbs": ["create", "list"]},
        {"name": "projects", "singularName": "project", "namespaced": False, "kind": "Project",
         "verbs": ["delete", "get", "list"]},
    ],
    ("template.openshift.io", "v1"): [
        {"name": "processedtemplates", "singularName": "", "namespaced": True, "kind": "Template",
         "verbs": ["create"]},
    ],
    ("build.openshift.io", "v1"): [
        {"name": "buildconfigs/instantiate", "singularName": "", "namespaced": True, "kind": "BuildRequest",
         "verbs": ["create"]},
    ],
}


def version_info() -> dict[str, str]:
    major, minor, _ = KUBERNETES_VERSION.split(".")
    return {"major": major, "minor": minor, "gitVersion": f"v{KUBERNETES_VERSION}", "gitCommit": "sandbox",
            "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
            "compiler": "gc", "platform": "linux/amd64"}


def core_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def _group_versions(registry: Registry) -> dict[str, list[str]]:
    """The served kinds' groups and versions, then those that only have endpoints."""
    found = registry.group_versions()
    for name, version in EXTRA_RESOURCES:
        if not registry.serves_group(name):
            continue  # a plain Kubernetes cluster: no OpenShift endpoints (Registry)
        if version not in found.setdefault(name, []):
            found[name].append(version)
    return found


def group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group(name, versions) for name, versions in _group_versions(registry).items() if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: Registry, name: str) -> dict[str, Any] | None:
    versions = _group_versions(registry).get(name)
    if not name or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _resource_entries(resource: ResourceType) -> list[dict[str, Any]]:
    entry = {"name": resource.plural, "singularName": resource.singular, "namespaced": resource.namespaced,
             "kind": resource.kind, "verbs": list(resource.verbs),
             "storageVersionHash": hashlib.sha256(resource.api_version.encode() + resource.kind.encode())
             .hexdigest()[:11]}
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    entries = [entry]
    if "status" in resource.subresources:
        entries.append({"name": f"{resource.plural}/status", "singularName": "", "namespaced": resource.namespaced,
                        "kind": resource.kind, "verbs": _SUBRESOURCE_VERBS})
    if "log" in resource.subresources:
        entries.append({"name": f"{resource.plural}/log", "singularName": "", "namespaced": resource.namespaced,
                        "kind": "Pod" if resource.kind == "Pod" else f"{resource.kind}Log", "verbs": ["get"]})
    if "scale" in resource.subresources:
        entries.append({"name": f"{resource.plural}/scale", "singularName": "", "namespaced": resource.namespaced,
                        "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": _SUBRESOURCE_VERBS})
    return entries


def resource_list(registry: Registry, group_name: str, version: str) -> dict[str, Any] | None:
    kinds = registry.in_group_version(group_name, version)
    extra = EXTRA_RESOURCES.get((group_name, version), []) if registry.serves_group(group_name) else []
    if not kinds and not extra:
        return None
    # Verb-only endpoints first: clients map a kind to the LAST resource listing it (Template -> templates, as
    # on OpenShift, where processedtemplates sorts first).
    resources = list(extra)
    resources += [entry for resource in kinds for entry in _resource_entries(resource)]
    group_version = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
