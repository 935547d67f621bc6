"""The cluster through its Kubernetes API only (the official Python client, as kubectl or `oc` would use it):
namespaces, objects, exec into a pod, a token for a ServiceAccount, the Helm release's stored values."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
from kubernetes.stream import stream

# The kinds the flows write into an installation's namespaces, by apiVersion and kind; a kind the cluster does not
# serve (the OpenShift ones on plain Kubernetes) is left out of a snapshot.
WRITTEN_KINDS = (
    ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Service"), ("v1", "ServiceAccount"), ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"), ("batch/v1", "Job"), ("coordination.k8s.io/v1", "Lease"),
    ("networking.k8s.io/v1", "Ingress"), ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("postgresql.cnpg.io/v1", "Cluster"), ("postgresql.cnpg.io/v1", "Backup"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"), ("postgresql.cnpg.io/v1", "Database"),
    ("barmancloud.cnpg.io/v1", "ObjectStore"),
    ("route.openshift.io/v1", "Route"), ("build.openshift.io/v1", "BuildConfig"),
    ("image.openshift.io/v1", "ImageStream"),
)


class Kube:
    """One identity's view of the cluster a kubeconfig (and context) names."""

    def __init__(self, kubeconfig: Path, context: str | None = None):
        self.kubeconfig = kubeconfig
        self.context = context
        self.api_client = config.new_client_from_config(config_file=str(kubeconfig), context=context)
        self.dynamic = DynamicClient(self.api_client)
        self.core = client.CoreV1Api(self.api_client)

    # --- objects ---------------------------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str):
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return self.resource(api_version, kind).get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def list(self, api_version: str, kind: str, namespace: str | None = None, **selectors: str) -> list[dict]:
        return self.resource(api_version, kind).get(namespace=namespace, **selectors).to_dict()["items"]

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        resource = self.resource(manifest["apiVersion"], manifest["kind"])
        return resource.create(body=manifest, namespace=manifest["metadata"].get("namespace")).to_dict()

    def patch(self, api_version: str, kind: str, name: str, namespace: str, patch: Any) -> dict[str, Any]:
        content_type = "application/json-patch+json" if isinstance(patch, list) else "application/merge-patch+json"
        return self.resource(api_version, kind).patch(name=name, namespace=namespace, body=patch,
                                                      content_type=content_type).to_dict()

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        try:
            self.resource(api_version, kind).delete(name=name, namespace=namespace)
        except NotFoundError:
            pass

    def delete_namespace(self, name: str, timeout: float = 300) -> None:
        """Delete a namespace and wait until it is gone (its finalizers done), as `kubectl delete --wait` does."""
        self.delete("v1", "Namespace", name)
        deadline = time.monotonic() + timeout
        while self.get("v1", "Namespace", name) is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespace {name} still exists {timeout:.0f} s after its deletion")
            time.sleep(1)

    def served(self, api_version: str, kind: str) -> bool:
        try:
            self.resource(api_version, kind)
        except ResourceNotFoundError:
            return False
        return True

    def snapshot(self, *namespaces: str) -> dict[tuple[str, str, str], str]:
        """What a client wrote into each of `namespaces` (spec, data, labels, annotations, generation, uid) - not the
        status controllers keep updating - for every kind the flows write that the cluster serves."""
        state = {}
        for namespace in namespaces:
            found = self.get("v1", "Namespace", namespace)
            if found is not None:
                state[("Namespace", "", namespace)] = _written(found)
            for api_version, kind in WRITTEN_KINDS:
                if not self.served(api_version, kind):
                    continue
                for item in self.list(api_version, kind, namespace=namespace):
                    state[(kind, namespace, item["metadata"]["name"])] = _written(item)
        return state

    # --- pods and identities ---------------------------------------------------------------------------------

    def exec(self, namespace: str, pod: str, container: str, command: list[str]) -> str:
        """The output of `command` in a pod's container (pods/exec), as `kubectl exec` gets it."""
        return stream(self.core.connect_get_namespaced_pod_exec, pod, namespace, container=container,
                      command=command, stdout=True, stderr=True, stdin=False, tty=False)

    def token_kubeconfig(self, namespace: str, account: str, path: Path, hours: int = 4) -> Path:
        """A kubeconfig for a ServiceAccount's token (TokenRequest, as `kubectl create token`), on the same server
        and CA as this identity's context."""
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=hours * 3600))
        token = self.core.create_namespaced_service_account_token(account, namespace, request).status.token
        document = yaml.safe_load(self.kubeconfig.read_text(encoding="utf-8"))
        context_name = self.context or document["current-context"]
        context = next(item["context"] for item in document["contexts"] if item["name"] == context_name)
        cluster = next(item for item in document["clusters"] if item["name"] == context["cluster"])
        user = f"{account}@{namespace}"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": {"cluster": cluster["name"], "user": user,
                                                    "namespace": namespace}}],
            "current-context": user}), encoding="utf-8")
        path.chmod(0o600)
        return path

    def helm_values(self, release: str, namespace: str) -> dict[str, Any]:
        """The values the deployed revision of a Helm release was given (`helm get values`), read from the release
        Secret Helm stores (base64 of gzip of JSON, in a base64 Secret field)."""
        secrets = self.list("v1", "Secret", namespace=namespace,
                            label_selector=f"owner=helm,name={release},status=deployed")
        if not secrets:
            raise LookupError(f"no deployed Helm release {release} in {namespace}")
        data = base64.b64decode(base64.b64decode(secrets[0]["data"]["release"]))
        return json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).get("config") or {}


def _written(item: dict[str, Any]) -> str:
    meta = item["metadata"]
    # A Secret's data by its digest: a failed comparison prints both snapshots, and secrets never reach the output.
    data = item.get("data")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest() if data else None
    return json.dumps({"spec": item.get("spec"), "data": digest, "rules": item.get("rules"),
                       "labels": meta.get("labels"), "annotations": meta.get("annotations"),
                       "generation": meta.get("generation"), "uid": meta.get("uid")}, sort_keys=True)
