# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Locate a CNPG cluster's backups from outside it: the work of the object_store_info module.

The ObjectStore the cluster's WAL archiver plugin names (or a given one when the cluster is gone), the credentials
and CA bundle it references, and the MLflow Deployment (whose image reads the catalog from inside the cluster when
only pods reach the store, and whose replica count a recovery restores). One module call instead of six tasks, each
of which started a Python process and imported the Kubernetes client: the recovery runs them before it restores.
"""

from __future__ import annotations

import base64
import os
import tempfile

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

PLUGIN = "barman-cloud.cloudnative-pg.io"
KINDS = {"Cluster": "postgresql.cnpg.io/v1", "ObjectStore": "barmancloud.cnpg.io/v1", "Secret": "v1",
         "Deployment": "apps/v1"}


def read(module, kind: str, name: str, namespace: str) -> dict:
    """The object, or {} when it does not exist."""
    return module.read(kind, KINDS[kind], name, namespace)


def store_name(cluster: dict, default: str) -> str:
    """The ObjectStore the cluster's barman-cloud plugin archives to, else `default`."""
    for plugin in (cluster.get("spec") or {}).get("plugins") or []:
        if plugin.get("name") == PLUGIN and (plugin.get("parameters") or {}).get("barmanObjectName"):
            return plugin["parameters"]["barmanObjectName"]
    return default


def cluster_image(cluster: dict) -> str:
    """spec.imageName (CNPG's defaulting webhook writes the operator's default there), else status.image."""
    return (cluster.get("spec") or {}).get("imageName") or (cluster.get("status") or {}).get("image") or ""


class SecretKeys:  # pylint: disable=too-few-public-methods
    """The keys of the Secrets an ObjectStore references, each Secret read once."""

    def __init__(self, module, namespace: str):
        self.module, self.namespace, self.read = module, namespace, {}

    def value(self, ref: dict, what: str, hint: str) -> str:
        name, key = ref.get("name", ""), ref.get("key", "")
        if name not in self.read:
            self.read[name] = read(self.module, "Secret", name, self.namespace).get("data") or None
        data = self.read[name]
        if data is None or key not in data:
            raise CollectionError("The ObjectStore's %s names Secret %s/%s key %s, which does not exist: %s" % (
                what, self.namespace, name, key, hint))
        return base64.b64decode(data[key]).decode()


def write_ca_bundle(pem: str) -> str:
    """A file of its own for the CA bundle (a certificate, nothing secret) that the control node's reads trust."""
    handle, path = tempfile.mkstemp(prefix="mlops-mlflow-s3-ca-", suffix=".crt")
    with os.fdopen(handle, "w", encoding="utf-8") as bundle:
        bundle.write(pem)
    os.chmod(path, 0o644)
    return path


def locate(module) -> dict:
    params = module.params
    namespace, name = params["namespace"], params["cluster"]
    cluster = read(module, "Cluster", name, namespace)
    store = read(module, "ObjectStore", store_name(cluster, params["object_store_name"]), namespace)
    if not store:
        raise CollectionError(
            "No ObjectStore for cluster %s in %s: its backups cannot be located. Check `kubectl -n %s get "
            "objectstores` and the cluster's spec.plugins." % (name, namespace, namespace))
    configuration = store["spec"]["configuration"]
    credentials = configuration.get("s3Credentials") or {}
    keys = SecretKeys(module, namespace)
    hint = "barman-cloud cannot reach the store with it either; create it or correct the ObjectStore."

    def key(field: str) -> str | None:
        ref = credentials.get(field)
        return keys.value(ref, "s3Credentials.%s" % field, hint) if ref else None
    ca_bundle = None
    if configuration.get("endpointCA"):
        ca = configuration["endpointCA"]
        pem = keys.value(ca, "endpointCA", "barman-cloud cannot verify the endpoint either. Create it (kubectl -n "
                         "%s create secret generic %s --from-file=%s=ca.crt)." % (namespace, ca.get("name"),
                                                                                  ca.get("key")))
        ca_bundle = write_ca_bundle(pem)
    deployment = read(module, "Deployment", params["deployment"], namespace)
    containers = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
                  or [{}])
    return {
        "changed": False,
        "cluster": cluster,
        "cluster_image": cluster_image(cluster),
        "object_store_resource": store,
        "object_store": {"destination_path": configuration.get("destinationPath"),
                         "endpoint_url": configuration.get("endpointURL"),
                         "access_key_id": key("accessKeyId"), "secret_access_key": key("secretAccessKey"),
                         "region": key("region"), "ca_bundle": ca_bundle},
        "catalog_job": {"namespace": namespace, "object_store_name": store["metadata"]["name"],
                        "image": params["catalog_image"] or containers[0].get("image") or ""},
        "deployment": deployment,
    }
