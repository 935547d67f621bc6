"""Identities and authorization as a real API server has them, seen through the real clients.

The scene of most tests: a ServiceAccount bound to ClusterRole `admin` in one namespace only - the usual AWX/AAP
automation identity - with a token from `kubectl create token`, used with kubectl's `--token` on the TLS context
(`sandbox-tls`: client-go sends a kubeconfig's credentials to TLS servers only). Each test names the upstream code
whose behaviour or message it checks.
"""

from __future__ import annotations

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
