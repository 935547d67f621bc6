"""The RBAC objects a cluster has before anyone logs in, installed at start (only those missing, so a restored
snapshot keeps its own):

- Kubernetes' default ClusterRoles, read in place from `../shared/schemas/rbac/` (admin, edit and view with their
  aggregation rules, what they aggregate, cluster-admin, system:discovery, system:basic-user), plus
  system:public-info-viewer and the default ClusterRoleBindings, from
  plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go: cluster-admin to `system:masters`, system:discovery
  and system:basic-user to `system:authenticated`, system:public-info-viewer to everyone;
- what a manifest install of CloudNativePG 1.30 and the Barman Cloud Plugin leaves: their ClusterRoles (none
  aggregated to admin/edit/view), the plugin's Role, and the `cnpg-system` namespace with the operator's
  ServiceAccount bound to cnpg-manager;
- OpenShift's roles for its kinds (trimmed to the kinds the sandbox serves) from its bootstrap policy
  (openshift/origin pkg/cmd/server/bootstrappolicy/policy.go): system:openshift:aggregate-to-admin|edit|view,
  basic-user (bound to `system:authenticated`) and self-provisioner (bound to `system:authenticated:oauth`, which
  ServiceAccounts are not in).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import yaml

from ..paths import SCHEMAS_DIR
from . import errors
from .operations import Api, Options

LOG = logging.getLogger(__name__)

RBAC_DIR = SCHEMAS_DIR / "rbac"
REFERENCE_FILES = ("kubernetes-default-clusterroles.yaml", "cnpg-1.30.0-clusterroles.yaml",
                   "plugin-barman-cloud-roles.yaml")
_RBAC = "rbac.authorization.k8s.io/v1"
_DEFAULTS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_READ = ["get", "list", "watch"]
CNPG_NAMESPACE = "cnpg-system"


def _rule(verbs: list[str], group: str, resources: list[str]) -> dict[str, Any]:
    # OpenShift lists its groups together with the legacy "" group (its pre-group API paths).
    return {"verbs": verbs, "apiGroups": ["", group] if group.endswith("openshift.io") else [group],
            "resources": resources}


def _cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
                  kubernetes: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "annotations": dict(_AUTOUPDATE)}
    if labels or kubernetes:
        meta["labels"] = dict(labels or {}, **(_DEFAULTS if kubernetes else {}))
    return {"apiVersion": _RBAC, "kind": "ClusterRole", "metadata": meta, "rules": rules}


def _cluster_binding(name: str, role: str, subjects: list[dict[str, str]], kubernetes: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "annotations": dict(_AUTOUPDATE)}
    if kubernetes:
        meta["labels"] = dict(_DEFAULTS)
    return {"apiVersion": _RBAC, "kind": "ClusterRoleBinding", "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def _groups(*names: str) -> list[dict[str, str]]:
    return [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name} for name in names]


KUBERNETES = [
    _cluster_role("system:public-info-viewer",
                  [{"verbs": ["get"], "nonResourceURLs": ["/livez", "/readyz", "/healthz", "/version", "/version/"]}],
                  kubernetes=True),
    _cluster_binding("cluster-admin", "cluster-admin", _groups("system:masters")),
    _cluster_binding("system:discovery", "system:discovery", _groups("system:authenticated")),
    _cluster_binding("system:basic-user", "system:basic-user", _groups("system:authenticated")),
    _cluster_binding("system:public-info-viewer", "system:public-info-viewer",
                     _groups("system:authenticated", "system:unauthenticated")),
]

_BUILD, _IMAGE, _ROUTE = "build.openshift.io", "image.openshift.io", "route.openshift.io"
_TEMPLATE, _PROJECT = "template.openshift.io", "project.openshift.io"
_OPENSHIFT_EDIT = [
    _rule(_ALL, _BUILD, ["buildconfigs", "buildconfigs/webhooks", "builds"]),
    _rule(_READ, _BUILD, ["builds/log"]),
    _rule(["create"], _BUILD, ["buildconfigs/instantiate", "buildconfigs/instantiatebinary", "builds/clone"]),
    _rule(_ALL, _IMAGE, ["imagestreamimages", "imagestreammappings", "imagestreams", "imagestreams/secrets",
                         "imagestreamtags"]),
    _rule(_READ, _IMAGE, ["imagestreams/status"]),
    _rule(_ALL, _ROUTE, ["routes"]),
    _rule(["create"], _ROUTE, ["routes/custom-host"]),
    _rule(_READ, _ROUTE, ["routes/status"]),
    _rule(_ALL, _TEMPLATE, ["processedtemplates", "templateconfigs", "templateinstances", "templates"]),
]
_OPENSHIFT_VIEW = [
    _rule(_READ, _BUILD, ["buildconfigs", "buildconfigs/webhooks", "builds"]),
    _rule(_READ, _BUILD, ["builds/log"]),
    _rule(_READ, _IMAGE, ["imagestreamimages", "imagestreammappings", "imagestreams", "imagestreamtags"]),
    _rule(_READ, _IMAGE, ["imagestreams/status"]),
    _rule(["get"], _PROJECT, ["projects"]),
    _rule(_READ, _ROUTE, ["routes"]),
    _rule(_READ, _ROUTE, ["routes/status"]),
    _rule(_READ, _TEMPLATE, ["processedtemplates", "templateconfigs", "templateinstances", "templates"]),
]
OPENSHIFT = [
    _cluster_role("system:openshift:aggregate-to-admin",
                  _OPENSHIFT_EDIT + [_rule(["delete", "get", "patch", "update"], _PROJECT, ["projects"]),
                                     _rule(["update"], _ROUTE, ["routes/status"])],
                  {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}),
    _cluster_role("system:openshift:aggregate-to-edit", _OPENSHIFT_EDIT + [_rule(["get"], _PROJECT, ["projects"])],
                  {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}),
    _cluster_role("system:openshift:aggregate-to-view", _OPENSHIFT_VIEW,
                  {"rbac.authorization.k8s.io/aggregate-to-view": "true"}),
    _cluster_role("basic-user", [
        _rule(["list"], _PROJECT, ["projectrequests"]),
        {"verbs": _READ, "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"]},
        _rule(["list", "watch"], _PROJECT, ["projects"]),
        {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"]},
    ]),
    _cluster_role("self-provisioner", [_rule(["create"], _PROJECT, ["projectrequests"])]),
    _cluster_binding("basic-users", "basic-user", _groups("system:authenticated"), kubernetes=False),
    _cluster_binding("self-provisioners", "self-provisioner", _groups("system:authenticated:oauth"),
                     kubernetes=False),
]

# The operator's namespace and identity from the CNPG release manifest (the plugin's bindings are not kept here).
CNPG_INSTALL = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CNPG_NAMESPACE}},
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "cnpg-manager", "namespace": CNPG_NAMESPACE}},
    _cluster_binding("cnpg-manager-rolebinding", "cnpg-manager",
                     [{"kind": "ServiceAccount", "name": "cnpg-manager", "namespace": CNPG_NAMESPACE}],
                     kubernetes=False),
]


@functools.cache
def reference_objects() -> tuple[dict[str, Any], ...]:
    """The Roles and ClusterRoles of the reference files (empty when the folder is absent)."""
    found: list[dict[str, Any]] = []
    for name in REFERENCE_FILES:
        path = RBAC_DIR / name
        if not path.is_file():
            LOG.warning("%s is missing: the sandbox starts without its roles", path)
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            for obj in document if isinstance(document, list) else [document]:
                if obj:
                    found.append({key: value for key, value in obj.items() if value is not None})
    return tuple(found)


def objects() -> list[dict[str, Any]]:
    """Everything `install` creates, namespaces first and bindings last (so what they name exists)."""
    order = {"Namespace": 0, "ServiceAccount": 1, "ClusterRole": 2, "Role": 2, "ClusterRoleBinding": 3}
    every = [*CNPG_INSTALL[:2], *reference_objects(), *KUBERNETES, *OPENSHIFT, *CNPG_INSTALL[2:]]
    return sorted(every, key=lambda obj: order.get(obj["kind"], 3))


def install(api: Api) -> None:
    options = Options(user_agent="kube-apiserver", field_manager="kube-apiserver")
    for obj in objects():
        resource = api.registry.by_kind(obj["apiVersion"], obj["kind"])
        if resource is None:
            LOG.warning("cannot install %s %s: the kind is not served", obj["kind"], obj["metadata"]["name"])
            continue
        namespace = obj["metadata"].get("namespace", "")
        if api.store.get(resource.key, namespace, obj["metadata"]["name"]) is not None:
            continue
        try:
            api.create(resource, namespace, obj, options)
        except errors.ApiError as error:
            LOG.warning("cannot install %s %s: %s", obj["kind"], obj["metadata"]["name"], error.message)
