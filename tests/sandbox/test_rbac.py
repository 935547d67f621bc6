"""Identities and authorization as a real API server has them, seen through the real clients.

The scene of most tests: a ServiceAccount bound to ClusterRole `admin` in one namespace only - the usual AWX/AAP
automation identity - with a token from `kubectl create token`, used with kubectl's `--token` on the TLS context
(`sandbox-tls`: client-go sends a kubeconfig's credentials to TLS servers only). Each test names the upstream code
whose behaviour or message it checks.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from sandbox.apiserver import authn
from sandbox.apiserver.access import Access, forbidden, request_attributes
from sandbox.apiserver.operations import Api, Options
from tests.sandbox.cluster import SandboxCluster

LEASE = textwrap.dedent("""\
    apiVersion: coordination.k8s.io/v1
    kind: Lease
    metadata: {name: automation-lock}
    spec: {holderIdentity: automation}
    """)
CNPG_CLUSTER = textwrap.dedent("""\
    apiVersion: postgresql.cnpg.io/v1
    kind: Cluster
    metadata: {name: pg}
    spec: {instances: 1, storage: {size: 1Gi}}
    """)


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _account(cluster: SandboxCluster, namespace: str, name: str, role: str = "admin",
             role_kind: str = "clusterrole") -> str:
    """A ServiceAccount bound to `role` in `namespace`, and a token for it (TokenRequest, as `kubectl create
    token` asks for one)."""
    cluster.kubectl("create", "serviceaccount", name, "-n", namespace)
    cluster.kubectl("create", "rolebinding", f"{name}-{role}", f"--{role_kind}={role}",
                    f"--serviceaccount={namespace}:{name}", "-n", namespace)
    return cluster.kubectl("create", "token", name, "-n", namespace).stdout.strip()


def _as(cluster: SandboxCluster, token: str, *args: str, stdin: str | None = None):
    return cluster.kubectl("--context", "sandbox-tls", "--token", token, *args, stdin=stdin, check=False)


def _http(cluster: SandboxCluster, method: str, path: str, token: str | None = None,
          headers: dict[str, str] | None = None, **kwargs) -> requests.Response:
    """A request to the TLS port, with `token` as its bearer token (none: anonymous)."""
    headers = dict(headers or {}, **({"Authorization": f"Bearer {token}"} if token else {}))
    return requests.request(method, f"{cluster.secure_server}{path}", headers=headers, verify=str(cluster.ca_file),
                            timeout=10, **kwargs)


@pytest.fixture(name="automation")
def fixture_automation(cluster: SandboxCluster, namespace: str) -> str:
    """A token of `automation`, admin of `namespace` only."""
    return _account(cluster, namespace, "automation")


def test_a_namespace_admin_is_refused_namespaces_and_cnpg_but_not_its_own_leases(cluster: SandboxCluster,
                                                                                 namespace: str, automation: str):
    user = f"system:serviceaccount:{namespace}:automation"
    # `kubectl auth whoami` (SelfSubjectReview): the identity of pkg/serviceaccount/util.go UserInfo.
    whoami = _as(cluster, automation, "auth", "whoami").stdout
    assert user in whoami
    assert f"[system:serviceaccounts system:serviceaccounts:{namespace} system:authenticated]" in whoami
    # `kubectl auth can-i` (SelfSubjectAccessReview): no cluster role grants it Namespaces.
    denied = _as(cluster, automation, "auth", "can-i", "create", "namespaces")
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    assert _as(cluster, automation, "auth", "can-i", "create", "leases", "-n", namespace).stdout.strip() == "yes"
    # responsewriters/errors.go forbiddenMessage, wrapped by apierrors.NewForbidden.
    refused = _as(cluster, automation, "create", "namespace", f"{namespace}-other")
    assert refused.returncode != 0
    assert (f'Error from server (Forbidden): namespaces is forbidden: User "{user}" cannot create resource '
            '"namespaces" in API group "" at the cluster scope') in refused.stderr
    # CNPG 1.30's manifest ClusterRoles carry no aggregate-to-admin label: admin has no rights on its kinds.
    refused = _as(cluster, automation, "create", "-n", namespace, "-f", "-", stdin=CNPG_CLUSTER)
    assert (f'clusters.postgresql.cnpg.io is forbidden: User "{user}" cannot create resource "clusters" in API '
            f'group "postgresql.cnpg.io" in the namespace "{namespace}"') in refused.stderr
    refused = _as(cluster, automation, "get", "clusters.postgresql.cnpg.io", "pg", "-n", namespace)
    assert (f'clusters.postgresql.cnpg.io "pg" is forbidden: User "{user}" cannot get resource "clusters" in API '
            f'group "postgresql.cnpg.io" in the namespace "{namespace}"') in refused.stderr
    assert _as(cluster, automation, "auth", "can-i", "create", "objectstores.barmancloud.cnpg.io",
               "-n", namespace).stdout.strip() == "no"
    # What admin does grant (system:aggregate-to-edit: leases) works.
    assert _as(cluster, automation, "create", "-n", namespace, "-f", "-", stdin=LEASE).returncode == 0
    assert cluster.get("lease", "automation-lock", "-n", namespace)["spec"]["holderIdentity"] == "automation"


def test_the_kubeconfig_user_is_a_cluster_admin_on_both_ports(cluster: SandboxCluster):
    # kubectl sends no credentials over plain HTTP: the default context is the kubeconfig's user all the same.
    assert "Username    sandbox-admin" in cluster.kubectl("auth", "whoami").stdout
    assert cluster.kubectl("auth", "can-i", "create", "namespaces").stdout.strip() == "yes"
    secure = cluster.kubectl("--context", "sandbox-tls", "auth", "whoami").stdout
    assert "sandbox-admin" in secure and "[system:masters system:authenticated]" in secure
    assert cluster.kubectl("--context", "sandbox-tls", "auth", "can-i", "*", "*").stdout.strip() == "yes"


def test_tokens_that_prove_nothing_are_401_and_no_token_is_anonymous(cluster: SandboxCluster, namespace: str,
                                                                     automation: str):
    # filters/authentication.go: a token no authenticator accepts is 401 Unauthorized.
    assert "error: You must be logged in to the server (Unauthorized)" in _as(cluster, "no-such-token",
                                                                              "get", "pods").stderr
    answer = _http(cluster, "GET", f"/api/v1/namespaces/{namespace}/configmaps", "no-such-token")
    assert answer.status_code == 401
    assert answer.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    # A bound ServiceAccount token dies with its account (pkg/serviceaccount/claims.go: the uid must match).
    leases = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    assert _http(cluster, "GET", leases, automation).status_code == 200
    cluster.kubectl("delete", "serviceaccount", "automation", "-n", namespace)
    assert _http(cluster, "GET", leases, automation).status_code == 401
    # No credentials on the TLS port: system:anonymous, allowed only what system:public-info-viewer grants.
    assert _http(cluster, "GET", "/version").status_code == 200
    assert _http(cluster, "GET", "/healthz").text == "ok"
    anonymous = _http(cluster, "GET", "/api")
    assert anonymous.status_code == 403
    assert anonymous.json()["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
    anonymous = _http(cluster, "GET", "/api/v1/namespaces")
    assert anonymous.json()["message"] == ('namespaces is forbidden: User "system:anonymous" cannot list resource '
                                           '"namespaces" in API group "" at the cluster scope')
    # TokenRequest validation (pkg/apis/authentication/validation): at least 10 minutes.
    short = cluster.kubectl("create", "token", "default", "-n", namespace, "--duration=1m", check=False)
    assert "may not specify a duration less than 10 minutes" in short.stderr


def test_an_aggregated_role_grows_with_a_labelled_cluster_role_installed_later(cluster: SandboxCluster,
                                                                               namespace: str, automation: str):
    # pkg/controller/clusterroleaggregation: admin's rules are those of every ClusterRole labelled
    # aggregate-to-admin, including one a chart installs later (what a cluster admin would do for CNPG).
    extension = textwrap.dedent(f"""\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: {namespace}-cnpg-to-admin
          labels: {{rbac.authorization.k8s.io/aggregate-to-admin: "true"}}
        rules:
        - {{apiGroups: [postgresql.cnpg.io], resources: [clusters], verbs: [create, get, list, watch]}}
        """)

    def can_create() -> bool:
        return _as(cluster, automation, "auth", "can-i", "create", "clusters.postgresql.cnpg.io",
                   "-n", namespace).stdout.strip() == "yes"

    assert not can_create()
    cluster.kubectl("create", "-f", "-", stdin=extension)
    try:
        assert _eventually(can_create)
        admin_rules = cluster.get("clusterrole", "admin")["rules"]
        assert {"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"],
                "verbs": ["create", "get", "list", "watch"]} in admin_rules
        assert _as(cluster, automation, "create", "-n", namespace, "-f", "-", stdin=CNPG_CLUSTER).returncode == 0
        # The label names admin only: edit does not grow.
        assert {"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"],
                "verbs": ["create", "get", "list", "watch"]} not in cluster.get("clusterrole", "edit")["rules"]
    finally:
        cluster.kubectl("delete", "clusterrole", f"{namespace}-cnpg-to-admin")
    assert _eventually(lambda: not can_create())


def test_resource_names_and_subresources(cluster: SandboxCluster, namespace: str):
    # pkg/apis/rbac/v1/evaluation_helpers.go: ResourceNameMatches, and ResourceMatches with `resource/sub` and
    # `*/sub`.
    role = textwrap.dedent("""\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: narrow}
        rules:
        - {apiGroups: [""], resources: [configmaps], resourceNames: [allowed], verbs: [get, list]}
        - {apiGroups: [apps], resources: [deployments/scale], verbs: [get, patch]}
        - {apiGroups: ["*"], resources: ["*/status"], verbs: [get]}
        - {apiGroups: [""], resources: [pods/log], verbs: [get]}
        """)
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=role)
    for name in ("allowed", "other"):
        cluster.kubectl("create", "configmap", name, "-n", namespace, "--from-literal=a=b")
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: app, image: registry.example.com/web:1.0}]}
        """))
    token = _account(cluster, namespace, "narrow", "narrow", "role")
    user = f"system:serviceaccount:{namespace}:narrow"
    assert _as(cluster, token, "get", "configmap", "allowed", "-n", namespace).returncode == 0
    refused = _as(cluster, token, "get", "configmap", "other", "-n", namespace)
    assert (f'configmaps "other" is forbidden: User "{user}" cannot get resource "configmaps" in API group "" in '
            f'the namespace "{namespace}"') in refused.stderr
    # A list is allowed by name only when narrowed to it (requestinfo.go: fieldSelector metadata.name=...).
    assert _as(cluster, token, "get", "configmaps", "-n", namespace).returncode != 0
    assert _http(cluster, "GET", f"/api/v1/namespaces/{namespace}/configmaps?fieldSelector=metadata.name%3Dallowed",
                 token).status_code == 200
    # deployments/scale, but not deployments.
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
    assert _http(cluster, "GET", f"{base}/scale", token).json()["kind"] == "Scale"
    refused = _http(cluster, "GET", base, token)
    assert refused.status_code == 403
    assert refused.json()["message"] == (f'deployments.apps "web" is forbidden: User "{user}" cannot get resource '
                                         f'"deployments" in API group "apps" in the namespace "{namespace}"')
    scaled = _http(cluster, "PATCH", f"{base}/scale", token, data='{"spec": {"replicas": 2}}',
                   headers={"Content-Type": "application/merge-patch+json"})
    assert scaled.status_code == 200, scaled.text
    assert cluster.get("deploy", "web", "-n", namespace)["spec"]["replicas"] == 2
    # `*/status`: any kind's status, in any group; pods/log but not pods.
    for args, expected in ((("get", "deployments", "--subresource=status"), "yes"),
                           (("get", "clusters.postgresql.cnpg.io", "--subresource=status"), "yes"),
                           (("get", "pods", "--subresource=log"), "yes"),
                           (("get", "pods"), "no"),
                           (("update", "deployments", "--subresource=scale"), "no")):
        assert _as(cluster, token, "auth", "can-i", *args, "-n", namespace).stdout.strip() == expected, args


def test_can_i_list_shows_the_rules_review(cluster: SandboxCluster, namespace: str, automation: str):
    # SelfSubjectRulesReview (RBACAuthorizer.RulesFor): the namespace's RoleBindings and the cluster-wide ones.
    listing = _as(cluster, automation, "auth", "can-i", "--list", "-n", namespace).stdout
    rows = {line.split()[0]: line for line in listing.splitlines()[1:] if line.strip()}
    assert "[create delete deletecollection get list patch update watch]" in rows["leases.coordination.k8s.io"]
    assert "selfsubjectreviews.authentication.k8s.io" in rows
    assert any("/api/*" in line for line in listing.splitlines())
    assert "clusters.postgresql.cnpg.io" not in rows


def test_a_project_request_makes_the_requester_admin_of_a_new_namespace(cluster: SandboxCluster, namespace: str,
                                                                        automation: str):
    # openshift-apiserver projectrequest/delegated: self-provisioner (system:authenticated:oauth, which a
    # ServiceAccount is not in) may request projects; the requester becomes admin of the new namespace.
    project = f"{namespace}-p"
    request = textwrap.dedent(f"""\
        apiVersion: project.openshift.io/v1
        kind: ProjectRequest
        metadata: {{name: {project}}}
        displayName: Team project
        """)
    user = f"system:serviceaccount:{namespace}:automation"
    # --validate=false: the sandbox publishes no OpenAPI document for project.openshift.io (docs/sandbox.md).
    refused = _as(cluster, automation, "create", "--validate=false", "-f", "-", stdin=request)
    assert (f'projectrequests.project.openshift.io is forbidden: User "{user}" cannot create resource '
            '"projectrequests" in API group "project.openshift.io" at the cluster scope') in refused.stderr
    listed = _http(cluster, "GET", "/apis/project.openshift.io/v1/projectrequests", automation)
    assert (listed.status_code, listed.json()["message"]) == (403, "You may not request a new project via this API.")
    binding = f"{namespace}-self-provisioner"
    cluster.kubectl("create", "clusterrolebinding", binding, "--clusterrole=self-provisioner",
                    f"--serviceaccount={namespace}:automation")
    try:
        created = _as(cluster, automation, "create", "--validate=false", "-f", "-", stdin=request)
        assert f"project.project.openshift.io/{project} created" in created.stdout, created.stderr
        annotations = cluster.get("namespace", project)["metadata"]["annotations"]
        assert annotations["openshift.io/requester"] == user
        assert annotations["openshift.io/display-name"] == "Team project"
        assert cluster.get("rolebinding", "admin", "-n", project)["subjects"] == [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
        assert _as(cluster, automation, "create", "-n", project, "-f", "-", stdin=LEASE).returncode == 0
        # Projects are the namespaces it may get; Namespace creation stays refused.
        projects = _as(cluster, automation, "get", "projects", "-o", "name").stdout.split()
        assert sorted(projects) == sorted([f"project.project.openshift.io/{namespace}",
                                           f"project.project.openshift.io/{project}"])
        assert _as(cluster, automation, "auth", "can-i", "create", "namespaces").stdout.strip() == "no"
        assert _as(cluster, automation, "delete", "project", project).returncode == 0
        assert cluster.kubectl("get", "namespace", project, check=False).returncode != 0
    finally:
        cluster.kubectl("delete", "clusterrolebinding", binding)
        cluster.kubectl("delete", "namespace", project, "--ignore-not-found")


def test_every_new_namespace_gets_its_default_account_and_the_root_ca(cluster: SandboxCluster, namespace: str):
    # The serviceaccount controller and the root-ca-cert-publisher of kube-controller-manager.
    assert _eventually(lambda: cluster.kubectl("get", "serviceaccount", "default", "-n", namespace,
                                               check=False).returncode == 0)
    assert _eventually(lambda: cluster.kubectl("get", "configmap", "kube-root-ca.crt", "-n", namespace,
                                               check=False).returncode == 0)
    bundle = cluster.get("configmap", "kube-root-ca.crt", "-n", namespace)
    assert bundle["data"]["ca.crt"] == cluster.ca_file.read_text()
    assert bundle["metadata"]["annotations"]["kubernetes.io/description"].startswith("Contains a CA bundle")


def test_helm_stores_its_release_as_the_caller(cluster: SandboxCluster, namespace: str, automation: str,
                                               demo_chart: Path):
    # Helm's release Secrets are written with the caller's credentials: a namespace admin may install into its
    # namespace, and nowhere else. With --create-namespace, Helm's install action looks for conflicting resources
    # in the target namespace before it creates it (pkg/action/install.go), so that look is what is refused.
    secure = ("--kube-context", "sandbox-tls", "--kube-token", automation)
    cluster.helm("install", "demo", str(demo_chart), "-n", namespace, *secure)
    assert cluster.get("secret", "sh.helm.release.v1.demo.v1", "-n", namespace)["type"] == "helm.sh/release.v1"
    elsewhere = f"{namespace}-new"
    refused = cluster.helm("install", "demo", str(demo_chart), "-n", elsewhere, "--create-namespace", *secure,
                           check=False)
    assert refused.returncode == 1
    assert (f'configmaps "demo-config" is forbidden: User "system:serviceaccount:{namespace}:automation" cannot get '
            f'resource "configmaps" in API group "" in the namespace "{elsewhere}"') in refused.stderr
    assert cluster.kubectl("get", "namespace", elsewhere, check=False).returncode != 0


# --- the authorizer in-process: rules, reasons and messages, without HTTP ---------------------------------------

def test_rbac_reasons_name_the_binding_or_the_missing_role(api: Api):
    # plugin/pkg/auth/authorizer/rbac/rbac.go: "RBAC: allowed by ..."; a binding to a missing role is the reason of
    # a denial ("RBAC: clusterrole.rbac.authorization.k8s.io ... not found").
    access = Access(api)
    bindings = api.registry.by_kind("rbac.authorization.k8s.io/v1", "RoleBinding")
    api.create(bindings, "default", {"metadata": {"name": "ghost"},
                                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                 "name": "no-such-role"},
                                     "subjects": [{"kind": "ServiceAccount", "name": "ci"}]}, Options())
    account = authn.service_account_identity("default", "ci")
    allowed, reason = access.authorizer.authorize(request_attributes(account, "GET", "/apis"))
    assert allowed and reason == ('RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole '
                                  '"system:discovery" to Group "system:authenticated"')
    request = request_attributes(account, "DELETE", "/api/v1/namespaces/default/secrets/s")
    allowed, reason = access.authorizer.authorize(request)
    assert not allowed and reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found'
    assert forbidden(request, reason).message == (
        'secrets "s" is forbidden: User "system:serviceaccount:default:ci" cannot delete resource "secrets" in API '
        'group "" in the namespace "default": RBAC: clusterrole.rbac.authorization.k8s.io "no-such-role" not found')


def test_request_attributes_follow_requestinfo(api: Api):
    # staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go
    user = authn.ANONYMOUS
    cases = {
        ("GET", "/api/v1/namespaces/a"): ("get", "a", "namespaces", "", "a"),
        ("POST", "/api/v1/namespaces"): ("create", "", "namespaces", "", ""),
        ("GET", "/api/v1/namespaces/a/pods?watch=true"): ("watch", "a", "pods", "", ""),
        ("GET", "/api/v1/namespaces/a/pods?watch=false"): ("list", "a", "pods", "", ""),
        ("DELETE", "/api/v1/namespaces/a/pods"): ("deletecollection", "a", "pods", "", ""),
        ("PUT", "/api/v1/namespaces/a/status"): ("update", "a", "namespaces", "status", "a"),
        ("POST", "/api/v1/namespaces/a/serviceaccounts/sa/token"): ("create", "a", "serviceaccounts", "token", "sa"),
        ("GET", "/apis/project.openshift.io/v1/projects/p"): ("get", "p", "projects", "", "p"),
    }
    for (method, url), expected in cases.items():
        found = request_attributes(user, method, url)
        assert (found.verb, found.namespace, found.resource, found.subresource, found.name) == expected, url
    assert not request_attributes(user, "GET", "/apis/apps/v1").resource_request
    assert request_attributes(user, "GET", "/apis/apps/v1").verb == "get"


# --- privilege-escalation prevention on RBAC writes -----------------------------------------------------------------
# kube-apiserver's RBAC storage: pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased/
# storage.go, pkg/registry/rbac/escalation_check.go (EscalationAllowed, BindingAuthorized, RoleEscalationAuthorized),
# pkg/registry/rbac/validation/rule.go (ConfirmNoEscalation and its message).

_RBAC = "/apis/rbac.authorization.k8s.io/v1"


def _not_held(user: str, namespace: str, *missing: str) -> str:
    """ConfirmNoEscalation's text (validation/rule.go): the user, its groups as Go's %q prints them, and each missing
    rule as pkg/apis/rbac/v1/helpers.go CompactString prints it, in string order."""
    groups = f'["system:serviceaccounts" "system:serviceaccounts:{namespace}" "system:authenticated"]'
    return (f'user "{user}" (groups={groups}) is attempting to grant RBAC permissions not currently held:\n'
            + "\n".join(missing))


def _binding(name: str, kind: str, role: str, subject: str) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": subject}]}


def test_a_namespace_admin_cannot_grant_what_it_does_not_hold(cluster: SandboxCluster, namespace: str,
                                                              automation: str):
    """rolebinding/policybased/storage.go and role/policybased/storage.go: without `bind`/`escalate`, a binding or a
    role may grant only what its writer holds there (validation/rule.go ConfirmNoEscalation); the refusal is
    apierrors.NewForbidden's `<resource>.rbac.authorization.k8s.io "<name>" is forbidden: <ConfirmNoEscalation>`.
    The check covers creates and updates (a PATCH as much as a POST), and the kubeconfig's user, in
    `system:masters`, is never checked (escalation_check.go EscalationAllowed)."""
    user = f"system:serviceaccount:{namespace}:automation"
    refused = _http(cluster, "POST", f"{_RBAC}/namespaces/{namespace}/rolebindings", automation,
                    json=_binding("root", "ClusterRole", "cluster-admin", "someone"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "Forbidden"
    assert refused.json()["details"] == {"name": "root", "group": "rbac.authorization.k8s.io", "kind": "rolebindings"}
    assert refused.json()["message"] == 'rolebindings.rbac.authorization.k8s.io "root" is forbidden: ' + _not_held(
        user, namespace, '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}', '{NonResourceURLs:["*"], Verbs:["*"]}')
    # kubectl prints the same Status.
    refused = _as(cluster, automation, "create", "rolebinding", "root", "--clusterrole=cluster-admin",
                  f"--serviceaccount={namespace}:automation", "-n", namespace)
    assert refused.returncode != 0
    assert "is attempting to grant RBAC permissions not currently held" in refused.stderr
    # A Role with a verb admin lacks on pods (escalate) and a cluster-scoped kind (nodes): each missing rule once,
    # broken down (policy_comparator.go BreakdownRule) and compacted per group and resource (policy_compact.go).
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "wider"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "escalate"]},
                      {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]}
    refused = _http(cluster, "POST", f"{_RBAC}/namespaces/{namespace}/roles", automation, json=role)
    assert refused.status_code == 403, refused.text
    assert refused.json()["message"] == 'roles.rbac.authorization.k8s.io "wider" is forbidden: ' + _not_held(
        user, namespace, '{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}',
        '{APIGroups:[""], Resources:["pods"], Verbs:["escalate"]}')
    assert cluster.kubectl("get", "role", "wider", "-n", namespace, check=False).returncode != 0
    # A Role within its rights is created; patching a right it lacks into it is refused like a create.
    role["rules"] = [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]
    assert _http(cluster, "POST", f"{_RBAC}/namespaces/{namespace}/roles", automation, json=role).status_code == 201
    patched = _http(cluster, "PATCH", f"{_RBAC}/namespaces/{namespace}/roles/wider", automation,
                    headers={"Content-Type": "application/merge-patch+json"},
                    json={"rules": [{"apiGroups": ["*"], "resources": ["*/exec"], "verbs": ["create"]}]})
    assert patched.status_code == 403, patched.text
    assert patched.json()["message"].endswith(":\n" + '{APIGroups:["*"], Resources:["*/exec"], Verbs:["create"]}')
    assert cluster.get("role", "wider", "-n", namespace)["rules"] == role["rules"]
    # The kubeconfig's user (system:masters) binds cluster-admin without holding anything in particular.
    cluster.kubectl("create", "rolebinding", "root", "--clusterrole=cluster-admin", "--user=someone",
                    "-n", namespace)


def test_a_namespace_admin_binds_roles_whose_rights_it_holds(cluster: SandboxCluster, namespace: str,
                                                             automation: str):
    """rolebinding/policybased/storage.go: a binding is allowed when the writer's rules in the binding's namespace
    cover every rule of the role it names (validation/rule.go ConfirmNoEscalation with policy_comparator.go Covers:
    subresources, resourceNames); a role that does not exist is the registry's NotFound."""
    role = textwrap.dedent("""\
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: reader}
        rules:
        - {apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [get]}
        - {apiGroups: [apps], resources: [deployments, deployments/scale], verbs: [get, list, watch]}
        """)
    assert _as(cluster, automation, "create", "-n", namespace, "-f", "-", stdin=role).returncode == 0
    created = _as(cluster, automation, "create", "rolebinding", "reader", "--role=reader", "--user=someone",
                  "-n", namespace)
    assert created.returncode == 0, created.stderr
    # The aggregated `view` is within `admin`: binding it is the everyday delegation.
    created = _as(cluster, automation, "create", "rolebinding", "viewer", "--clusterrole=view", "--user=someone",
                  "-n", namespace)
    assert created.returncode == 0, created.stderr
    missing = _http(cluster, "POST", f"{_RBAC}/namespaces/{namespace}/rolebindings", automation,
                    json=_binding("ghost", "ClusterRole", f"{namespace}-no-such-role", "someone"))
    assert (missing.status_code, missing.json()["message"]) == (
        404, f'clusterroles.rbac.authorization.k8s.io "{namespace}-no-such-role" not found')


def test_bind_on_one_cluster_role_lets_a_project_admin_bind_it(cluster: SandboxCluster, namespace: str,
                                                               automation: str):
    """escalation_check.go BindingAuthorized: `bind` on clusterroles with the role's name (checked in the binding's
    namespace) allows a RoleBinding to it without holding its rights - the drills' `<role>-drill-project` flow
    (roles/rbac/tasks/main.yml): a ServiceAccount admin of a project it requested (its `admin` RoleBinding written by
    the server, openshift-apiserver projectrequest/delegated) binds there the one ClusterRole it may bind, and no
    other."""
    drill, other, binder = f"{namespace}-drill-project", f"{namespace}-other", f"{namespace}-drill-project-binder"
    project = f"{namespace}-p"
    cnpg = [{"apiGroups": ["postgresql.cnpg.io"], "resources": ["clusters"], "verbs": ["create", "get", "delete"]}]
    objects = [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": drill},
         "rules": cnpg},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": other},
         "rules": cnpg},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": binder},
         "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
                    "resourceNames": [drill]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": binder},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": binder},
         "subjects": [{"kind": "ServiceAccount", "name": "automation", "namespace": namespace}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": f"{namespace}-self-provisioner"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "self-provisioner"},
         "subjects": [{"kind": "ServiceAccount", "name": "automation", "namespace": namespace}]},
    ]
    cluster.kubectl("create", "-f", "-", stdin="\n---\n".join(json.dumps(obj) for obj in objects))
    user = f"system:serviceaccount:{namespace}:automation"
    try:
        request = {"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest", "metadata": {"name": project}}
        answer = _http(cluster, "POST", "/apis/project.openshift.io/v1/projectrequests", automation, json=request)
        assert answer.status_code == 201, answer.text
        bindings = f"{_RBAC}/namespaces/{project}/rolebindings"
        created = _http(cluster, "POST", bindings, automation,
                        json=_binding("drill", "ClusterRole", drill, user))
        assert created.status_code == 201, created.text
        # An update (a re-run's apply) is allowed the same way.
        applied = _http(cluster, "PATCH", f"{bindings}/drill?fieldManager=ansible&force=true", automation,
                        headers={"Content-Type": "application/apply-patch+yaml"},
                        data=json.dumps(_binding("drill", "ClusterRole", drill, "someone-else")))
        assert applied.status_code == 200, applied.text
        assert cluster.get("rolebinding", "drill", "-n", project)["subjects"][0]["name"] == "someone-else"
        # `bind` names one role: a ClusterRole with the very same rules is still refused.
        refused = _http(cluster, "POST", bindings, automation, json=_binding("other", "ClusterRole", other, user))
        assert refused.status_code == 403
        assert refused.json()["message"] == 'rolebindings.rbac.authorization.k8s.io "other" is forbidden: ' + \
            _not_held(user, namespace, '{APIGroups:["postgresql.cnpg.io"], Resources:["clusters"], '
                                       'Verbs:["create" "get" "delete"]}')
    finally:
        cluster.kubectl("delete", "namespace", project, "--ignore-not-found", "--wait=false")
        for obj in objects:
            cluster.kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"], "--ignore-not-found")


def test_escalate_lets_a_namespace_admin_write_roles_beyond_its_rights(cluster: SandboxCluster, namespace: str,
                                                                       automation: str):
    """escalation_check.go RoleEscalationAuthorized: `escalate` on roles lets a Role grant more than its writer
    holds (role/policybased/storage.go); it does nothing for bindings (rolebinding/policybased/storage.go asks for
    `bind` or the rights themselves)."""
    cluster.kubectl("create", "role", "escalator", "--verb=escalate", "--resource=roles.rbac.authorization.k8s.io",
                    "-n", namespace)
    cluster.kubectl("create", "rolebinding", "escalator", "--role=escalator",
                    f"--serviceaccount={namespace}:automation", "-n", namespace)
    wide = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "wide"},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
    created = _http(cluster, "POST", f"{_RBAC}/namespaces/{namespace}/roles", automation, json=wide)
    assert created.status_code == 201, created.text
    # Binding it is still a grant of `*`, which the account does not hold.
    refused = _http(cluster, "POST", f"{_RBAC}/namespaces/{namespace}/rolebindings", automation,
                    json=_binding("wide", "Role", "wide", "someone"))
    assert refused.status_code == 403
    assert refused.json()["message"].endswith('{APIGroups:["*"], Resources:["*"], Verbs:["*"]}')


def test_rule_coverage_follows_the_policy_comparator(api: Api):
    """staging/src/k8s.io/component-helpers/auth/rbac/validation/policy_comparator.go Covers, through the
    authorizer's rule matching: `*` verbs, groups and resources, `*/sub` for any subresource, resourceNames (a rule
    without names needs an owner rule without names), non-resource URLs with a trailing `*`; the missing rules
    compacted (pkg/registry/rbac/validation/policy_compact.go) and sorted (validation/rule.go)."""
    access = Access(api)
    roles = api.registry.by_kind("rbac.authorization.k8s.io/v1", "ClusterRole")
    bindings = api.registry.by_kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
    api.create(roles, "", {"metadata": {"name": "owner"}, "rules": [
        {"apiGroups": ["", "apps"], "resources": ["pods", "*/scale"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["get"]},
        {"apiGroups": ["batch"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["/metrics/*"], "verbs": ["get"]}]}, Options())
    api.create(bindings, "", {"metadata": {"name": "owner"},
                              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                          "name": "owner"},
                              "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "default"}]},
               Options())
    account = authn.service_account_identity("default", "ci")

    def missing(*rules: dict) -> list[str]:
        found = access.authorizer.confirm_no_escalation(account, "default", list(rules))
        return found.split("held:\n", 1)[1].split("\n") if found else []

    assert not missing({"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["list"]},
                       {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["get"]},
                       {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs/status"], "verbs": ["delete"]},
                       {"nonResourceURLs": ["/metrics/cadvisor"], "verbs": ["get"]})
    assert missing({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
                   {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a", "b"], "verbs": ["get"]},
                   {"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]},
                   {"nonResourceURLs": ["/metrics", "/metrics/x"], "verbs": ["get"]}) == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["*"]}',
        '{APIGroups:[""], Resources:["secrets"], ResourceNames:["b"], Verbs:["get"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}',
        '{APIGroups:["*"], Resources:["pods"], Verbs:["get"]}',
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list" "watch"]}',
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}',
    ]
