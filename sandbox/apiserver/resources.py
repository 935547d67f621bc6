"""The kinds the sandbox serves: names, scope, verbs, subresources and where each one's schema comes from.

Adding a built-in kind is one `_builtin(...)` line; a custom resource is picked up from its CRD file.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import schemas

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ScalePaths:
    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str | None = ".status.selector"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"


@dataclass(frozen=True)
class ResourceType:  # pylint: disable=too-many-instance-attributes  # mirrors an APIResource entry
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    scale: ScalePaths | None = None
    # Kinds that carry metadata.generation (spec-bearing workloads and every custom resource).
    generation: bool = False
    # Custom resources refuse strategic merge patches, like a real API server.
    custom: bool = False
    # "kubernetes", "openshift", "crd" or None (accepted without schema validation, with a logged warning).
    schema_source: str | None = "kubernetes"
    crd_schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    # Tells apart two versions of one CRD's schema (its uid and generation), so cached schema nodes follow an edit.
    schema_id: str = ""
    printer_columns: tuple[PrinterColumn, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # The garbage-collection policy when a DELETE names none (batch/v1 Jobs keep their pods, for compatibility).
    default_propagation: str = "Background"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def key(self) -> tuple[str, str]:
        """The storage key: one collection per group and resource (version-independent)."""
        return self.group, self.plural

    @property
    def qualified(self) -> str:
        """`Kind.group` as API errors name it (`Deployment.apps`, `Secret`)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def path_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def schema_node(self) -> schemas.Node | None:
        return _schema_node(self)


@functools.cache
def _schema_node(resource: ResourceType) -> schemas.Node | None:
    if resource.schema_source == "kubernetes":
        name = schemas.kubernetes_definition_for(resource.group, resource.version, resource.kind)
        if name is None:
            raise LookupError(f"no Kubernetes {schemas.KUBERNETES_VERSION} schema for {resource.qualified}")
        doc = schemas.kubernetes_doc()
        return doc.node(doc.definitions[name])
    if resource.schema_source == "openshift":
        doc = schemas.openshift_doc()
        name = schemas.openshift_definition_for(resource.group, resource.kind)
        if doc is None or name is None:
            return None
        return doc.node(doc.definitions[name])
    if resource.schema_source == "crd" and resource.crd_schema is not None:
        doc = schemas.crd_doc(resource.qualified, resource.crd_schema)
        return doc.node(resource.crd_schema)
    return None


def _builtin(group, version, kind, plural, *, namespaced=True, short_names=(), categories=(), subresources=(),
             scale=None, generation=False, columns=(), **extra) -> ResourceType:
    return ResourceType(group=group, version=version, kind=kind, plural=plural, namespaced=namespaced,
                        short_names=tuple(short_names), categories=tuple(categories),
                        subresources=tuple(subresources), scale=scale, generation=generation,
                        printer_columns=tuple(PrinterColumn(*column) for column in columns), **extra)


def _openshift(group, kind, plural, short_names=(), subresources=("status",), schema_source="openshift",
               columns=()) -> ResourceType:
    return _builtin(group, "v1", kind, plural, short_names=short_names, subresources=subresources,
                    generation=True, schema_source=schema_source, columns=columns)


BUILTIN = (
    _builtin("", "v1", "Namespace", "namespaces", namespaced=False, short_names=["ns"], subresources=["status"],
             columns=[("Status", ".status.phase")]),
    _builtin("", "v1", "Secret", "secrets", columns=[("Type", ".type")]),
    _builtin("", "v1", "ConfigMap", "configmaps", short_names=["cm"]),
    _builtin("", "v1", "Service", "services", short_names=["svc"], categories=["all"], subresources=["status"],
             columns=[("Type", ".spec.type"), ("Cluster-IP", ".spec.clusterIP")]),
    _builtin("", "v1", "ServiceAccount", "serviceaccounts", short_names=["sa"]),
    _builtin("", "v1", "Pod", "pods", short_names=["po"], categories=["all"], subresources=["status", "log"],
             columns=[("Status", ".status.phase")]),
    _builtin("", "v1", "Event", "events", short_names=["ev"],
             columns=[("Type", ".type"), ("Reason", ".reason"), ("Message", ".message")]),
    _builtin("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=["pvc"],
             subresources=["status"], columns=[("Status", ".status.phase")]),
    _builtin("", "v1", "Endpoints", "endpoints", short_names=["ep"]),
    _builtin("apps", "v1", "Deployment", "deployments", short_names=["deploy"], categories=["all"],
             subresources=["status", "scale"], scale=ScalePaths(), generation=True,
             columns=[("Ready", ".status.readyReplicas", "integer"), ("Up-to-date", ".status.updatedReplicas", "integer"),
                      ("Available", ".status.availableReplicas", "integer")]),
    _builtin("apps", "v1", "ReplicaSet", "replicasets", short_names=["rs"], categories=["all"],
             subresources=["status", "scale"], scale=ScalePaths(), generation=True),
    _builtin("apps", "v1", "StatefulSet", "statefulsets", short_names=["sts"], categories=["all"],
             subresources=["status", "scale"], scale=ScalePaths(), generation=True,
             columns=[("Ready", ".status.readyReplicas", "integer")]),
    _builtin("apps", "v1", "DaemonSet", "daemonsets", short_names=["ds"], categories=["all"],
             subresources=["status"], generation=True,
             columns=[("Desired", ".status.desiredNumberScheduled", "integer"),
                      ("Ready", ".status.numberReady", "integer")]),
    _builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
             namespaced=False, short_names=["crd", "crds"], categories=["api-extensions"], subresources=["status"],
             generation=True, columns=[("Created At", ".metadata.creationTimestamp")]),
    _builtin("batch", "v1", "Job", "jobs", categories=["all"], subresources=["status"], generation=True,
             default_propagation="Orphan",
             columns=[("Succeeded", ".status.succeeded", "integer"), ("Failed", ".status.failed", "integer")]),
    _builtin("batch", "v1", "CronJob", "cronjobs", short_names=["cj"], categories=["all"], subresources=["status"],
             generation=True),
    _builtin("coordination.k8s.io", "v1", "Lease", "leases",
             columns=[("Holder", ".spec.holderIdentity")]),
    _builtin("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=["pdb"],
             subresources=["status"], generation=True),
    _builtin("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=["netpol"],
             generation=True),
    _builtin("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=["ing"], subresources=["status"],
             generation=True),
    _builtin("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=["hpa"],
             categories=["all"], subresources=["status"]),
    _openshift("build.openshift.io", "BuildConfig", "buildconfigs", short_names=["bc"],
               columns=[("Type", ".spec.strategy.type"), ("Latest", ".status.lastVersion", "integer")]),
    # The published OpenShift subset has no Build definition: Builds are accepted unvalidated (see docs/sandbox.md).
    # `builds/<name>/log` is the build's log (`oc logs build/<name>`), as OpenShift serves it.
    _openshift("build.openshift.io", "Build", "builds", schema_source=None, subresources=("status", "log"),
               columns=[("Type", ".spec.strategy.type"), ("Status", ".status.phase")]),
    _openshift("image.openshift.io", "ImageStream", "imagestreams", short_names=["is"],
               columns=[("Image Repository", ".status.dockerImageRepository")]),
    _openshift("template.openshift.io", "Template", "templates", subresources=()),
    # No published schema is kept for the Prometheus operator's kinds: accepted unvalidated, with a warning at start.
    _builtin("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", short_names=["promrule"],
             generation=True, custom=True, schema_source=None),
    _builtin("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors", short_names=["pmon"],
             generation=True, custom=True, schema_source=None),
    _builtin("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", short_names=["smon"],
             generation=True, custom=True, schema_source=None),
)

# OpenShift serves Routes from its own API server (strategic merge patch works there), though the published schema
# is a CRD.
NATIVE_CRD_GROUPS = ("route.openshift.io",)


def _without_nulls(schema: Any) -> Any:
    """Drop `key: null` entries (a published CRD may carry `anyOf: null`, which the API server ignores)."""
    if isinstance(schema, dict):
        return {k: _without_nulls(v) for k, v in schema.items() if v is not None}
    if isinstance(schema, list):
        return [_without_nulls(v) for v in schema]
    return schema


def from_crd(document: dict[str, Any], schema_id: str = "") -> list[ResourceType]:
    """The kinds a CustomResourceDefinition serves (one per served version)."""
    spec = document["spec"]
    names = spec["names"]
    found = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale = None
        if "scale" in subresources:
            paths = subresources["scale"]
            scale = ScalePaths(paths["specReplicasPath"], paths["statusReplicasPath"], paths.get("labelSelectorPath"))
        columns = tuple(PrinterColumn(column["name"], column["jsonPath"], column.get("type", "string"))
                        for column in version.get("additionalPrinterColumns", ()) if column["name"] != "Age")
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object",
                                                                           "x-kubernetes-preserve-unknown-fields": True}
        # apiVersion, kind and metadata are always allowed at the root, declared or not (structural schemas).
        implicit = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
        schema = dict(schema, properties=dict(implicit, **(schema.get("properties") or {})))
        found.append(ResourceType(
            group=spec["group"], version=version["name"], kind=names["kind"], plural=names["plural"],
            namespaced=spec["scope"] == "Namespaced", short_names=tuple(names.get("shortNames", ())),
            categories=tuple(names.get("categories", ())), subresources=tuple(sorted(subresources)),
            scale=scale, generation=True, custom=spec["group"] not in NATIVE_CRD_GROUPS, schema_source="crd",
            crd_schema=_without_nulls(schema), printer_columns=columns, schema_id=schema_id))
    return found


# Custom resources served even when their CRD files are missing (then without schema validation).
_CRD_FALLBACK = (
    ("postgresql.cnpg.io", "Cluster", "clusters", ("status", "scale")),
    ("postgresql.cnpg.io", "Backup", "backups", ("status",)),
    ("postgresql.cnpg.io", "ScheduledBackup", "scheduledbackups", ("status",)),
    ("postgresql.cnpg.io", "Database", "databases", ("status",)),
    ("barmancloud.cnpg.io", "ObjectStore", "objectstores", ("status",)),
    ("route.openshift.io", "Route", "routes", ("status",)),
)


@functools.cache
def registry() -> Registry:
    """The kinds served at start (shared, read-only: an API server works on its own `copy()`)."""
    types = list(BUILTIN)
    documents = []
    for path in schemas.crd_files():
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        types.extend(from_crd(document))
        if document["spec"]["group"] not in NATIVE_CRD_GROUPS:
            documents.append(document)
    served = {(t.group, t.kind) for t in types}
    for group, kind, plural, subresources in _CRD_FALLBACK:
        if (group, kind) not in served:
            scale = ScalePaths(".spec.instances", ".status.instances", ".status.selector") if kind == "Cluster" else None
            types.append(ResourceType(group=group, version="v1", kind=kind, plural=plural,
                                      subresources=subresources, scale=scale, generation=True,
                                      custom=group not in NATIVE_CRD_GROUPS, schema_source=None))
    return Registry(types, documents)


FLAVOURS = ("openshift", "kubernetes")


def openshift_group(group: str) -> bool:
    """The API groups openshift-apiserver and OpenShift's operators serve (route, build, image, template, project,
    security, ...): all named `*.openshift.io`. A vanilla or kind cluster serves none of them."""
    return group.endswith(".openshift.io")


class Registry:
    """Lookups over the served kinds. Kinds come and go with CustomResourceDefinitions (`serve`, `unserve`):
    each change swaps whole lookup tables, so readers never see a half-made one.

    The flavour is the cluster it stands for: `openshift` serves the OpenShift API groups next to Kubernetes';
    `kubernetes` (a vanilla or kind cluster) serves none of them, not even their verb-only endpoints
    (processedtemplates, buildconfigs/instantiate, projects): discovery does not list them and their paths answer
    404, as kube-apiserver answers for a group nothing registers."""

    def __init__(self, types: list[ResourceType], crd_documents: list[dict[str, Any]] | tuple = (),
                 flavour: str = "openshift"):
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown cluster flavour {flavour!r}: one of {', '.join(FLAVOURS)}")
        self.flavour = flavour
        if flavour == "kubernetes":
            types = [t for t in types if not openshift_group(t.group)]
        self._index(tuple(types))
        # The CRDs of the kinds served from the start (as a manifest install of CNPG and the plugin leaves them).
        self.crd_documents = tuple(crd_documents)
        # Bumped by every change of the served kinds (caches of discovery-derived documents key on it).
        self.revision = 0
        self._lock = threading.Lock()

    def _index(self, types: tuple[ResourceType, ...]) -> None:
        self._by_path = {(t.group, t.version, t.plural): t for t in types}
        self._by_kind = {(t.api_version, t.kind): t for t in types}
        self.types = types

    def copy(self, flavour: str | None = None) -> Registry:
        return Registry(list(self.types), self.crd_documents, flavour or self.flavour)

    def serves_group(self, group: str) -> bool:
        """Whether the cluster serves `group` at all, kinds or verb-only endpoints (a CRD may add a group later)."""
        return self.flavour == "openshift" or not openshift_group(group) or group in self.group_versions()

    def serve(self, kinds: list[ResourceType]) -> None:
        """Serve `kinds` (a CRD's versions), replacing what was served for their group and resource."""
        if not kinds:
            return
        with self._lock:
            group, plural = kinds[0].group, kinds[0].plural
            kept = tuple(t for t in self.types if (t.group, t.plural) != (group, plural))
            self._index(kept + tuple(kinds))
            self.revision += 1

    def unserve(self, group: str, plural: str) -> None:
        with self._lock:
            self._index(tuple(t for t in self.types if (t.group, t.plural) != (group, plural)))
            self.revision += 1

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def by_key(self, key: tuple[str, str]) -> ResourceType:
        for resource in self.types:
            if resource.key == key:
                return resource
        raise KeyError(key)

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions, in the order kinds were declared (the core group is '')."""
        found: dict[str, list[str]] = {}
        for resource in self.types:
            versions = found.setdefault(resource.group, [])
            if resource.version not in versions:
                versions.append(resource.version)
        return found

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.types if t.group == group and t.version == version]
