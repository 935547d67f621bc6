"""OpenShift projects (project.openshift.io/v1), a view of Namespaces that openshift-apiserver serves:

- `POST projectrequests`: what `oc new-project` sends. Allowed by RBAC to the `self-provisioner` role (bound to
  `system:authenticated:oauth` on OpenShift, so to people, not ServiceAccounts, unless an admin binds it). The
  server creates the Namespace with the requester's annotations and a RoleBinding `admin` of ClusterRole admin to
  the requester, as the default project template does
  (openshift-apiserver pkg/project/apiserver/registry/projectrequest/delegated/delegated.go and template.go);
- `GET projects`: the namespaces the caller may `get` (the project authorization cache of
  pkg/project/auth/cache.go); `GET projects/<name>`, `DELETE projects/<name>` (deletes the Namespace).

Namespace creation itself stays what RBAC says: a project admin has no cluster role that allows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors, rbac
from .operations import DeleteOptions, Options
from .resources import ResourceType

if TYPE_CHECKING:
    from .access import Call

GROUP = "project.openshift.io"
PROJECT = ResourceType(group=GROUP, version="v1", kind="Project", plural="projects", namespaced=False,
                       schema_source=None)
PROJECT_REQUEST = ResourceType(group=GROUP, version="v1", kind="ProjectRequest", plural="projectrequests",
                               namespaced=False, schema_source=None)
_NAMESPACES = ("", "namespaces")


def _server() -> Options:
    """The options of the writes openshift-apiserver makes for a ProjectRequest (with its own privileges)."""
    return Options(user_agent="openshift-apiserver", field_manager="openshift-apiserver")


def _project(namespace: dict[str, Any]) -> dict[str, Any]:
    """A Namespace shown as a Project (pkg/project/apis/project/v1 conversion: same metadata, spec and status)."""
    return {"kind": "Project", "apiVersion": f"{GROUP}/v1", "metadata": namespace["metadata"],
            "spec": namespace.get("spec") or {"finalizers": ["kubernetes"]},
            "status": namespace.get("status") or {"phase": "Active"}}


def _not_found(name: str) -> errors.ApiError:
    return errors.not_found(PROJECT, name)


def _types(call: Call) -> tuple[ResourceType, ResourceType]:
    registry = call.api.registry
    return registry.by_kind("v1", "Namespace"), registry.by_kind("rbac.authorization.k8s.io/v1", "RoleBinding")


def get_projects(call: Call) -> tuple[int, Any]:
    if call.request.verb == "watch":
        raise errors.not_implemented("watching projects")
    name = call.request.name
    if call.request.verb == "get":
        namespace = call.api.store.get(_NAMESPACES, "", name)
        if namespace is None:
            raise _not_found(name)
        return 200, _project(namespace)
    namespaces, revision = call.api.store.list(_NAMESPACES)
    visible = [_project(ns) for ns in namespaces if call.access.allowed(rbac.Attributes(
        call.user, "get", True, ns["metadata"]["name"], "", "v1", "namespaces", "", ns["metadata"]["name"]))]
    if name:  # a fieldSelector metadata.name=<name>
        visible = [project for project in visible if project["metadata"]["name"] == name]
    return 200, {"kind": "ProjectList", "apiVersion": f"{GROUP}/v1", "metadata": {"resourceVersion": str(revision)},
                 "items": visible}


def delete_project(call: Call) -> tuple[int, Any]:
    name = call.request.name
    if not name:
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    namespace_type, _ = _types(call)
    if call.api.store.get(_NAMESPACES, "", name) is None:
        raise _not_found(name)
    call.api.delete(namespace_type, "", name, DeleteOptions())
    return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                 "details": {"name": name, "group": GROUP, "kind": "projects"}}


def request_project(call: Call) -> tuple[int, Any]:
    body = call.read_body()
    if not isinstance(body, dict):
        raise errors.bad_request("the body of a ProjectRequest must be a JSON object")
    name = (body.get("metadata") or {}).get("name", "")
    if not name:
        raise errors.invalid(PROJECT_REQUEST, "", [{"field": "metadata.name", "reason": "FieldValueRequired",
                                                     "message": "Required value: name or generateName is required"}])
    if call.api.store.get(_NAMESPACES, "", name) is not None:
        raise errors.ApiError(409, "AlreadyExists", f'project.{GROUP} "{name}" already exists',
                              {"name": name, "group": GROUP, "kind": "project"})
    namespace_type, binding_type = _types(call)
    requester = call.user.name
    annotations = {"openshift.io/description": body.get("description", ""),
                   "openshift.io/display-name": body.get("displayName", ""),
                   "openshift.io/requester": requester}
    with call.api.store.lock:
        namespace = call.api.create(namespace_type, "", {"metadata": {"name": name, "annotations": annotations}},
                                    _server())
        call.api.create(binding_type, name, {
            "metadata": {"name": "admin", "namespace": name},
            "roleRef": {"apiGroup": rbac.RBAC_GROUP, "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"apiGroup": rbac.RBAC_GROUP, "kind": "User", "name": requester}],
        }, _server())
    return 201, _project(namespace)


def can_request(call: Call) -> tuple[int, Any]:
    """`GET projectrequests`: Success when the caller may create one (REST.List in delegated.go)."""
    allowed = call.access.allowed(rbac.Attributes(call.user, "create", True, "", GROUP, "v1", "projectrequests"))
    if not allowed:
        # NewForbidden's message, replaced by the configurable projectRequestMessage's default.
        raise errors.ApiError(403, "Forbidden", "You may not request a new project via this API.",
                              {"group": GROUP, "kind": "projectrequest"})
    return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}


# (group, version, resource, subresource) -> {HTTP method: endpoint}
ROUTES = {
    (GROUP, "v1", "projects", ""): {"GET": get_projects, "HEAD": get_projects, "DELETE": delete_project},
    (GROUP, "v1", "projectrequests", ""): {"POST": request_project, "GET": can_request},
}
