"""What every Namespace gets from kube-controller-manager soon after it is created:

- the `default` ServiceAccount (the serviceaccount controller,
  pkg/controller/serviceaccount/serviceaccounts_controller.go);
- the `kube-root-ca.crt` ConfigMap with the cluster CA as `ca.crt` (the root-ca-cert-publisher,
  pkg/controller/certificates/rootcacertpublisher/publisher.go): the CA of the API server's TLS port (sandbox/pki.py).

Both act a moment after the Namespace appears, as on a cluster: a client that creates a namespace and at once
expects `default` may have to wait for it.
"""

from __future__ import annotations

from ..pki import ca_pem
from .base import Controller
from .client import ApiError

ROOT_CA_NAME = "kube-root-ca.crt"
# rootcacertpublisher.Description
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def _active(namespace: dict | None) -> bool:
    return namespace is not None and not namespace["metadata"].get("deletionTimestamp")


def _create(client, obj: dict) -> None:
    try:
        client.create(obj)
    except ApiError as error:
        if error.code not in (404, 409):  # the namespace went meanwhile, or someone was first
            raise


class ServiceAccountController(Controller):
    name = "serviceaccount-controller"
    kind = ("v1", "Namespace")

    def reconcile(self, obj, namespace, name):
        if _active(obj) and self.client.get("v1", "ServiceAccount", name, "default") is None:
            _create(self.client, {"apiVersion": "v1", "kind": "ServiceAccount",
                                  "metadata": {"name": "default", "namespace": name}})
        return None


class RootCAPublisher(Controller):
    name = "root-ca-cert-publisher"
    kind = ("v1", "Namespace")

    def reconcile(self, obj, namespace, name):
        if not _active(obj):
            return None
        data = {"ca.crt": ca_pem()}
        current = self.client.get("v1", "ConfigMap", name, ROOT_CA_NAME)
        if current is None:
            _create(self.client, {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": ROOT_CA_NAME, "namespace": name,
                                               "annotations": {"kubernetes.io/description": DESCRIPTION}},
                                  "data": data})
        elif current.get("data") != data:
            try:
                self.client.update(dict(current, data=data))
            except ApiError as error:
                if error.code not in (404, 409):
                    raise
        return None
