# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each playbook does on the Kubernetes API, in RBAC's terms: the one list that both the access preflight of
every role (the `access_check` module) and the Role that `playbooks/rbac.yml` grants are made from.

Each need is (API group, resource[/subresource], verbs, why). The verbs are those the calls send:
kubernetes.core's `k8s_info` gets by name and lists without one; `k8s` state=present gets, then creates or
patches; state=absent gets and deletes; `k8s_exec` opens pods/exec (a WebSocket GET, then the SPDY POST kubectl
and the Python client fall back to: `get` and `create`); Helm's release storage gets, lists, creates, updates and
deletes Secrets, and Helm applies the chart's objects with get, create, patch and delete (watching Jobs for hooks).
"""

from __future__ import annotations

FLOWS = ("deploy", "upgrade", "recover", "recovery_drill", "backup_check", "decommission")

READ = ("get",)
LIST = ("get", "list")
APPLY = ("get", "create", "patch")
CHART_VERBS = ("get", "list", "create", "patch", "delete")

# Every flow: the namespace lock (lease_lock) and the Helm release it reads.
_LOCK = [("coordination.k8s.io", "leases", ("get", "create", "update", "delete"), "the namespace lock (lease_lock)")]
_RELEASE_READ = [("", "secrets", LIST, "Helm's release records (helm get values, helm status)")]
# helm install/upgrade/uninstall: release records, then each kind the chart renders.
_HELM_WRITE = [
    ("", "secrets", ("get", "list", "create", "update", "delete"), "Helm's release records"),
    ("", "services", CHART_VERBS, "the chart's Service"),
    ("apps", "deployments", CHART_VERBS, "the chart's MLflow Deployment"),
    ("batch", "jobs", CHART_VERBS + ("watch",), "the chart's migration Job (helm waits on hooks)"),
    ("route.openshift.io", "routes", CHART_VERBS, "the chart's Route (OpenShift)"),
    ("networking.k8s.io", "ingresses", CHART_VERBS, "the chart's Ingress (plain Kubernetes)"),
    ("postgresql.cnpg.io", "clusters", CHART_VERBS, "the chart's CNPG Cluster"),
    ("postgresql.cnpg.io", "scheduledbackups", CHART_VERBS, "the chart's ScheduledBackup"),
    ("postgresql.cnpg.io", "databases", CHART_VERBS, "the chart's Database (the auth database)"),
    ("barmancloud.cnpg.io", "objectstores", CHART_VERBS, "the chart's ObjectStore (backups)"),
    ("build.openshift.io", "buildconfigs", CHART_VERBS, "the chart's BuildConfig (OpenShift builds)"),
    ("image.openshift.io", "imagestreams", CHART_VERBS, "the chart's ImageStream (OpenShift builds)"),
    ("template.openshift.io", "templates", CHART_VERBS, "the chart's migration Template (OpenShift)"),
    ("monitoring.coreos.com", "podmonitors", CHART_VERBS, "the chart's PodMonitor (monitoring)"),
    ("monitoring.coreos.com", "prometheusrules", CHART_VERBS, "the chart's PrometheusRule (monitoring)"),
]
_SERVER = [
    ("apps", "deployments", READ, "MLflow's rollout and replica count"),
    ("build.openshift.io", "builds", ("get", "list", "watch"), "the image build of a version (resource_wait watches it)"),
    ("build.openshift.io", "buildconfigs/instantiate", ("create",), "starting the build of a missing image"),
    ("image.openshift.io", "imagestreams", READ, "the built image of a version"),
]
_AUTH_SECRET = [("", "secrets", APPLY, "basic-auth.ini and the app user's Secret (basic_auth_rewrite)")]
_JOB = [
    ("batch", "jobs", ("get", "create", "delete"), "the migration and backup catalog Jobs"),
    ("", "pods", ("list",), "the Job's pod"),
    ("", "pods/log", READ, "the Job's report in its pod log"),
]
_CATALOG = [
    ("postgresql.cnpg.io", "clusters", READ, "the cluster whose backups are read"),
    ("barmancloud.cnpg.io", "objectstores", READ, "where the backups are (ObjectStore)"),
    ("", "secrets", READ, "the ObjectStore's credentials and CA"),
]
# resource_wait lists the object by name, then watches it from that list's resourceVersion.
_WAIT_SERVER = [("apps", "deployments", ("list", "watch"), "waiting for MLflow's rollout (resource_wait watches)")]
_WAIT_CLUSTER = [("postgresql.cnpg.io", "clusters", ("list", "watch"),
                  "waiting for the cluster to be Ready (resource_wait watches)")]
_EXEC = [
    ("", "pods", READ, "the primary's pod"),
    ("", "pods/exec", ("get", "create"), "pg_switch_wal() in the primary, as kubectl cnpg psql does"),
]

NEEDS = {
    "deploy": _LOCK + _HELM_WRITE + _SERVER + _AUTH_SECRET + _WAIT_SERVER + _WAIT_CLUSTER + [
        ("", "namespaces", READ, "the namespace exists"),
        ("postgresql.cnpg.io", "clusters", READ, "the running cluster and its image"),
    ],
    "upgrade": _LOCK + _HELM_WRITE + _SERVER + _AUTH_SECRET + _JOB + _WAIT_SERVER + [
        ("postgresql.cnpg.io", "clusters", READ, "the cluster and its app Secret"),
        ("postgresql.cnpg.io", "backups", ("get", "list", "create", "watch"), "the backup before a schema change"),
    ],
    "recover": (_LOCK + _HELM_WRITE + _SERVER + _AUTH_SECRET + _JOB + _CATALOG + _EXEC + _WAIT_SERVER
                + _WAIT_CLUSTER) + [
        ("postgresql.cnpg.io", "clusters", ("get", "list", "patch"), "the clusters, the old one hibernated"),
        ("postgresql.cnpg.io", "backups", ("get", "list", "create", "watch"), "the new cluster's first base backup"),
    ],
    "recovery_drill": (_RELEASE_READ + _HELM_WRITE + _SERVER + _AUTH_SECRET + _JOB + _CATALOG + _EXEC + _WAIT_SERVER
                       + _WAIT_CLUSTER) + [
        ("", "namespaces", READ, "the drill namespace"),
        ("", "secrets", ("get", "list", "create", "patch", "delete"), "production's Secrets copied for the drill"),
        ("postgresql.cnpg.io", "clusters", ("get", "list", "delete"), "the restored copy, removed afterwards"),
        ("barmancloud.cnpg.io", "objectstores", ("get", "delete"), "the drill's ObjectStore, removed afterwards"),
        ("route.openshift.io", "routes", READ, "the restored copy's URL"),
    ],
    "backup_check": _RELEASE_READ + _CATALOG + [
        ("apps", "deployments", READ, "the MLflow image (the catalog Job's)"),
    ],
    "decommission": _LOCK + _RELEASE_READ + [
        ("postgresql.cnpg.io", "clusters", ("get", "list", "delete"), "the superseded cluster"),
        ("postgresql.cnpg.io", "backups", LIST, "the current cluster's completed backup"),
        ("barmancloud.cnpg.io", "objectstores", ("get", "list", "delete"), "a store nothing uses any more"),
        ("", "secrets", READ, "who owns the app Secret"),
    ],
}

# Where a drill restores (the drill role's preflight picks the mode; docs/rbac.md "Drills without cluster-admin"),
# and what each mode needs beyond the flow, asked once at the cluster scope (granted only on request, by rbac.yml):
# - provided: an existing namespace where rbac.yml bound the Role (rbac_drill_namespace): nothing more;
# - project_request: on OpenShift (project.openshift.io served), a ProjectRequest, what `oc new-project` sends,
#   allowed by the `self-provisioner` ClusterRole (openshift-apiserver pkg/project/apiserver/registry/projectrequest/
#   delegated/delegated.go); the default project template makes the requester `admin` of the new project;
# - namespace: plain Kubernetes, a Namespace the drill creates and deletes (a ClusterRole, rbac_drill_own_namespaces).
DRILL_NAMESPACE_MODES = ("provided", "project_request", "namespace")
DRILL_NAMESPACE_NEEDS = {
    "provided": [],
    "project_request": [("project.openshift.io", "projectrequests", ("create",),
                         "the drill asks for its project (ProjectRequest, as oc new-project)")],
    "namespace": [("", "namespaces", ("get", "create", "delete"), "a drill's own throw-away namespace")],
}
DRILL_NAMESPACES = DRILL_NAMESPACE_NEEDS["namespace"]
# In the project a ProjectRequest made, its requester is `admin` (OpenShift's admin ClusterRole aggregates
# system:openshift:aggregate-to-admin: delete, get, patch, update on projects; Kubernetes' system:aggregate-to-admin:
# roles and rolebindings). Admin has no right on CloudNativePG's or the plugin's kinds (their manifests aggregate
# nothing to admin), so the drill binds, in its project only, a ClusterRole that rbac.yml makes with the flow's rules
# and these (`bind` on that one ClusterRole is what RBAC asks of a RoleBinding's creator who does not hold its rules:
# kubernetes pkg/registry/rbac/rolebinding/policybased/storage.go, BindingAuthorized).
DRILL_PROJECT_NEEDS = [
    ("project.openshift.io", "projects", ("get", "delete"), "the drill's project, deleted as a Project afterwards"),
]
DRILL_PROJECT_BINDING = [
    ("rbac.authorization.k8s.io", "rolebindings", ("get", "create"), "binding the drill's ClusterRole in its project"),
]


def drill_namespace_rules(mode: str) -> list:
    """The access_check rules (cluster-scoped) a drill's namespace mode needs beyond the recovery_drill flow."""
    if mode not in DRILL_NAMESPACE_NEEDS:
        raise ValueError("unknown drill namespace mode %s; known: %s" % (mode, ", ".join(DRILL_NAMESPACE_MODES)))
    return [{"group": group, "resource": resource, "verbs": list(verbs), "cluster_scoped": True, "why": why}
            for group, resource, verbs, why in DRILL_NAMESPACE_NEEDS[mode]]


def drill_project_rules() -> list:
    """The access_check rules (namespaced) a drill needs in the project it asked for, beyond the flow."""
    return [{"group": group, "resource": resource, "verbs": list(verbs), "why": why}
            for group, resource, verbs, why in DRILL_PROJECT_NEEDS]


def split_resource(resource: str) -> tuple:
    name, _sep, subresource = resource.partition("/")
    return name, subresource


def checks(flows) -> list:
    """(group, resource, subresource, verb, why) for `flows`, each once, in a stable order."""
    unknown = [flow for flow in flows if flow not in NEEDS]
    if unknown:
        raise ValueError("unknown flow(s) %s; known: %s" % (", ".join(unknown), ", ".join(FLOWS)))
    seen, found = set(), []
    for flow in flows:
        for group, resource, verbs, why in NEEDS[flow]:
            name, subresource = split_resource(resource)
            for verb in verbs:
                key = (group, name, subresource, verb)
                if key not in seen:
                    seen.add(key)
                    found.append(key + (why,))
    return found


def role_rules(flows, extra=()) -> list:
    """RBAC PolicyRules for `flows` (and `extra` needs), one rule per API group and verb set, sorted."""
    verbs_of = {}
    for group, resource, verbs, _why in [need for flow in flows for need in NEEDS[flow]] + list(extra):
        verbs_of.setdefault((group, resource), set()).update(verbs)
    by_verbs = {}
    for (group, resource), verbs in verbs_of.items():
        by_verbs.setdefault((group, tuple(sorted(verbs))), []).append(resource)
    return [{"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
            for (group, verbs), resources in sorted(by_verbs.items())]
