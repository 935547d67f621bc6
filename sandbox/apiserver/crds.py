"""CustomResourceDefinitions: the `apiextensions.k8s.io/v1` objects, and what creating or deleting one serves.

- The CRDs of the kinds the sandbox knows exist from the start, as after a manifest install of CloudNativePG and
  the Barman Cloud Plugin: `kubectl get crd` lists them as the release manifests carry them (`../shared/schemas/
  crds`: CNPG 1.30.0, plugin 0.14.0). Those manifests put no version label or annotation on their CRDs, so neither
  does the sandbox: a preflight tells versions apart by the schema (e.g. Backup `status.majorVersion`, new in CNPG
  1.26) or by the operator's Deployment image. The Prometheus operator's kinds, kept without a published schema,
  get a CRD with an open schema (what the sandbox validates: nothing).
- cert-manager's CRDs (cert-manager.io/v1 Certificate, CertificateRequest, Issuer, ClusterIssuer), as after
  installing cert-manager, which the Barman Cloud Plugin's manifest needs for its Issuer and Certificates (its
  installation guide checks `cmctl check api` first). Their names, scopes, short names and categories are those of
  cert-manager's release manifest (cert-manager/cert-manager deploy/crds); no schema of theirs is kept in
  `../shared/schemas`, so theirs is open too. Stored CRDs like any other: `kubectl delete crd
  certificates.cert-manager.io` stops serving Certificate, as when an admin removes cert-manager's CRDs.
- Route, BuildConfig, Build, ImageStream and Template are not CRDs on OpenShift (openshift-apiserver serves
  them; only MicroShift, which has no openshift-apiserver, installs a Route CRD): no CRD object lists them.
- Creating a CRD (a chart's `crds/` folder, `kubectl apply`) serves its kinds at once (discovery, OpenAPI,
  validation against its schema) and reports `NamesAccepted` and `Established`, which the apiextensions-apiserver's
  controllers set within milliseconds and Helm waits for before installing the templates. Deleting a CRD deletes
  its custom resources, then stops serving them.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ..timestamps import now
from .resources import NATIVE_CRD_GROUPS, Registry, ResourceType, from_crd

API_VERSION = "apiextensions.k8s.io/v1"
KIND = "CustomResourceDefinition"


def defaults(obj: dict[str, Any]) -> None:
    """apiextensions' v1 defaulters (SetDefaults_CustomResourceDefinitionSpec, ..._CustomResourceConversion)."""
    spec = obj.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def _condition(kind: str, reason: str, message: str, stamp: str) -> dict[str, Any]:
    return {"type": kind, "status": "True", "reason": reason, "message": message, "lastTransitionTime": stamp}


def status(obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the naming and establishing controllers write once a CRD's names are free: accepted names,
    `NamesAccepted` (NoConflicts) and `Established` (InitialNamesAccepted), the stored version."""
    spec = obj.get("spec") or {}
    names = {k: v for k, v in (spec.get("names") or {}).items()
             if k in ("plural", "singular", "kind", "listKind", "shortNames", "categories")}
    stamp = now()
    earlier = {c.get("type"): c.get("lastTransitionTime") for c in (previous or {}).get("conditions") or []}
    stored = list((previous or {}).get("storedVersions") or [])
    for version in spec.get("versions") or []:
        if version.get("storage") and version.get("name") not in stored:
            stored.append(version["name"])
    return {"acceptedNames": names,
            "conditions": [_condition("NamesAccepted", "NoConflicts", "no conflicts found",
                                      earlier.get("NamesAccepted") or stamp),
                           _condition("Established", "InitialNamesAccepted", "the initial names have been accepted",
                                      earlier.get("Established") or stamp)],
            "storedVersions": stored}


def causes(obj: dict[str, Any], old: dict[str, Any] | None) -> list[dict[str, str]]:
    """apiextensions' validation that our flows can meet: the name is `<plural>.<group>`; the scope is fixed."""
    spec = obj.get("spec") or {}
    name = obj["metadata"].get("name", "")
    found = []
    wanted = f"{(spec.get('names') or {}).get('plural', '')}.{spec.get('group', '')}"
    if name != wanted:
        found.append({"field": "metadata.name", "reason": "FieldValueInvalid",
                      "message": f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'})
    if old is not None and spec.get("scope") != (old.get("spec") or {}).get("scope"):
        found.append({"field": "spec.scope", "reason": "FieldValueInvalid",
                      "message": f'Invalid value: "{spec.get("scope")}": field is immutable'})
    return found


def serve(registry: Registry, obj: dict[str, Any]) -> None:
    """Serve what a stored CRD declares (not over a built-in kind of the same group and resource)."""
    spec = obj.get("spec") or {}
    current = [t for t in registry.types if (t.group, t.plural) == (spec.get("group"), (spec.get("names") or {})
                                                                     .get("plural"))]
    if any(t.schema_source not in ("crd", None) for t in current):
        return
    meta = obj["metadata"]
    registry.serve(from_crd(obj, f"{meta.get('uid', '')}/{meta.get('generation', 1)}"))


def served_kinds(registry: Registry, obj: dict[str, Any]) -> ResourceType | None:
    """One served kind of a CRD (its objects share one storage key), or None."""
    spec = obj.get("spec") or {}
    plural = (spec.get("names") or {}).get("plural")
    return next((t for t in registry.types if (t.group, t.plural) == (spec.get("group"), plural)
                 and t.schema_source in ("crd", None)), None)


def _open_crd(resource: ResourceType) -> dict[str, Any]:
    """A CRD for a custom kind the sandbox serves without a published schema."""
    subresources = {"status": {}} if "status" in resource.subresources else {}
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": f"{resource.plural}.{resource.group}"},
            "spec": {"group": resource.group, "scope": "Namespaced" if resource.namespaced else "Cluster",
                     "names": {"kind": resource.kind, "plural": resource.plural,
                               **({"shortNames": list(resource.short_names)} if resource.short_names else {})},
                     "versions": [{"name": resource.version, "served": True, "storage": True,
                                   "subresources": subresources,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


def _cert_manager_crd(kind: str, plural: str, scope: str, short_names: tuple[str, ...]) -> dict[str, Any]:
    """One of cert-manager's CRDs (deploy/crds/crd-<plural>.yaml): v1 served and stored, status subresource."""
    names: dict[str, Any] = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                             "categories": ["cert-manager"]}
    if short_names:
        names["shortNames"] = list(short_names)
    return {"apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": f"{plural}.{CERT_MANAGER_GROUP}",
                         "labels": {"app": "cert-manager", "app.kubernetes.io/instance": "cert-manager",
                                    "app.kubernetes.io/name": "cert-manager"}},
            "spec": {"group": CERT_MANAGER_GROUP, "scope": scope, "names": names,
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


CERT_MANAGER_GROUP = "cert-manager.io"
CERT_MANAGER_CRDS = (
    _cert_manager_crd("Certificate", "certificates", "Namespaced", ("cert", "certs")),
    _cert_manager_crd("CertificateRequest", "certificaterequests", "Namespaced", ("cr", "crs")),
    _cert_manager_crd("Issuer", "issuers", "Namespaced", ()),
    _cert_manager_crd("ClusterIssuer", "clusterissuers", "Cluster", ()),
)


def seed(store: Any, registry: Registry) -> None:
    """Store the CRDs of the kinds served from the start (skipped when a snapshot brought them back), and serve
    the kinds of CRDs created in an earlier run (a persisted store)."""
    resource = registry.by_kind(API_VERSION, KIND)
    documents = list(registry.crd_documents)
    from_files = {(d["spec"]["group"], d["spec"]["names"]["plural"]) for d in documents}
    documents += [_open_crd(t) for t in registry.types
                  if t.custom and t.schema_source is None and (t.group, t.plural) not in from_files
                  and t.group not in NATIVE_CRD_GROUPS]
    known = set()
    # cert-manager's kinds are not among the registry's: served from their stored CRDs (below), as created ones.
    for document in CERT_MANAGER_CRDS:
        if store.get(resource.key, "", document["metadata"]["name"]) is None:
            obj = copy.deepcopy(document)
            defaults(obj)
            obj["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
            obj["status"] = status(obj)
            store.put(resource.key, obj, "ADDED")
    for document in documents:
        name = document["metadata"]["name"]
        known.add(name)
        if store.get(resource.key, "", name) is not None:
            continue
        # Stored as the manifest has it, without the write path's validation: these are the published files,
        # and walking the JSONSchemaProps of the Cluster CRD at every start would cost more than it proves.
        obj = copy.deepcopy(document)
        defaults(obj)
        obj["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        obj["status"] = status(obj)
        store.put(resource.key, obj, "ADDED")
    for obj in store.list(resource.key)[0]:
        if obj["metadata"]["name"] not in known:
            serve(registry, obj)
