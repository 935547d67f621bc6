# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster_prerequisites module's work: does the cluster have what the chart and the playbooks rely on, read the
way any authenticated identity may (`/version`, discovery and `/openapi/v3`, which Kubernetes' system:discovery and
system:public-info-viewer roles allow everyone), so a namespace-scoped identity can answer it too.

- Kubernetes >= 1.29: the Barman Cloud Plugin runs as a native sidecar (an init container with restartPolicy
  Always), on by default from 1.29.
- CloudNativePG's API (postgresql.cnpg.io/v1: Cluster, Backup, ScheduledBackup, Database) at 1.26 or later, told by
  the Cluster schema's `spec.plugins[].isWALArchiver` (added in 1.26, which the plugin's backups need).
- The Barman Cloud Plugin's API (barmancloud.cnpg.io/v1 ObjectStore).
- cert-manager's API (cert-manager.io/v1 Certificate and Issuer): the plugin's release manifest (and its Helm chart)
  has cert-manager issue the TLS certificates of the operator-plugin gRPC connection - an Issuer `selfsigned-issuer`
  and the Certificates `barman-cloud-client` and `barman-cloud-server` in the operator's namespace - and renew them;
  its installation guide (plugin-barman-cloud docs, installation.md) makes `cmctl check api` a requirement. Without
  cert-manager those objects cannot be created, and the plugin's pod waits for the Secrets they would make.
"""

from __future__ import annotations

import json
import re

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

MIN_KUBERNETES = (1, 29)
CNPG_GROUP_VERSION = "postgresql.cnpg.io/v1"
PLUGIN_GROUP_VERSION = "barmancloud.cnpg.io/v1"
CERT_MANAGER_GROUP_VERSION = "cert-manager.io/v1"
REQUIRED = (
    (CNPG_GROUP_VERSION, ("clusters", "backups", "scheduledbackups", "databases"), "CloudNativePG (1.26 or later)"),
    (PLUGIN_GROUP_VERSION, ("objectstores",), "the Barman Cloud Plugin"),
    (CERT_MANAGER_GROUP_VERSION, ("certificates", "issuers"), "cert-manager"),
)
# What the chart uses where the cluster serves it (OpenShift): told from the API group list (/apis, one request that
# never touches the groups themselves), so that the flows need no discovery call of their own
# (roles/common/tasks/builds_image.yml).
OPTIONAL = ("build.openshift.io/v1", "image.openshift.io/v1", "route.openshift.io/v1")
# What to do about a missing piece, where the name alone does not say it.
ADVICE = {
    CERT_MANAGER_GROUP_VERSION: "the Barman Cloud Plugin's manifest has it issue and renew the TLS certificates of the "
                                "operator-plugin connection (an Issuer and two Certificates); install cert-manager "
                                "(https://cert-manager.io/docs/installation/; on OpenShift, the cert-manager Operator "
                                "for Red Hat OpenShift), check it with `cmctl check api`, then install the plugin",
}
_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


def kubernetes_version(version_info: dict):
    """(major, minor) from /version's gitVersion (v1.33.2+k3s1, v1.31.4-eks-...), else its major/minor fields."""
    match = _VERSION.match(str(version_info.get("gitVersion") or ""))
    if match:
        return int(match.group(1)), int(match.group(2))
    major = re.sub(r"\D", "", str(version_info.get("major") or ""))
    minor = re.sub(r"\D", "", str(version_info.get("minor") or ""))
    return (int(major), int(minor)) if major and minor else None


def cluster_schema_has_wal_archiver(openapi: dict) -> bool:
    """Whether CNPG's Cluster schema (OpenAPI v3 of postgresql.cnpg.io/v1) has spec.plugins[].isWALArchiver."""
    for name, schema in ((openapi or {}).get("components") or {}).get("schemas", {}).items():
        if not name.endswith(".Cluster"):
            continue
        plugins = (((schema.get("properties") or {}).get("spec") or {}).get("properties") or {}).get("plugins") or {}
        if "isWALArchiver" in ((plugins.get("items") or {}).get("properties") or {}):
            return True
    return False


def problems(version_info: dict, served: dict, cnpg_openapi: dict | None) -> list:
    """What is missing, each said with what needs it; `served` maps group-version to its resource names (absent:
    the API is not served)."""
    found = []
    version = kubernetes_version(version_info)
    if version is None:
        found.append("the API server's version (%s) cannot be read" % version_info)
    elif version < MIN_KUBERNETES:
        found.append("Kubernetes %d.%d: 1.29 or later is needed (the Barman Cloud Plugin runs as a native sidecar)"
                     % version)
    for group_version, resources, what in REQUIRED:
        advice = (" (%s)" % ADVICE[group_version]) if group_version in ADVICE else ""
        if group_version not in served:
            found.append("%s is not installed: the API %s is not served%s" % (what, group_version, advice))
            continue
        absent = [name for name in resources if name not in served[group_version]]
        if absent:
            found.append("%s serves no %s in %s%s" % (what, ", ".join(absent), group_version, advice))
    if CNPG_GROUP_VERSION in served and cnpg_openapi is not None and not cluster_schema_has_wal_archiver(cnpg_openapi):
        found.append("CloudNativePG is older than 1.26: its Cluster has no spec.plugins[].isWALArchiver, which "
                     "backups through the Barman Cloud Plugin need")
    return found


def _get(module, path: str):
    """The JSON at `path` (not a Kubernetes object: the client's own wrapping wants a `kind`), None on a 404."""
    try:
        response = module.client.client.request("get", path, serialize=False)
        return json.loads(response.data.decode("utf-8"))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        if getattr(exc, "status", None) == 404:
            return None
        raise


def run_prerequisites(module) -> dict:
    version_info = _get(module, "/version") or {}
    served = {}
    for group_version, _resources, _what in REQUIRED:
        listing = _get(module, "/apis/%s" % group_version)
        if listing is not None:
            served[group_version] = [item.get("name") for item in listing.get("resources") or []]
    groups = (_get(module, "/apis") or {}).get("groups") or []
    listed = {version.get("groupVersion") for group in groups for version in group.get("versions") or []}
    openapi = _get(module, "/openapi/v3/apis/%s" % CNPG_GROUP_VERSION) if CNPG_GROUP_VERSION in served else None
    found = problems(version_info, served, openapi)
    version = kubernetes_version(version_info)
    result = {"changed": False, "kubernetes_version": "%d.%d" % version if version else None,
              "apis": sorted(set(served) | (listed & set(OPTIONAL))), "problems": found}
    if found:
        raise CollectionError("the cluster lacks what the collection needs; nothing was changed: %s. See README.md, "
                              "\"Requirements on the cluster\"." % "; ".join(found), **result)
    return result
