"""cert-manager's API in the sandbox: served from the start, as after installing cert-manager (which the Barman
Cloud Plugin's manifest needs for its Issuer and Certificates), and gone when an admin deletes its CRD."""

from __future__ import annotations

import json

from tests.sandbox.cluster import SandboxCluster


def _served(cluster: SandboxCluster) -> list[str]:
    listing = cluster.kubectl("get", "--raw", "/apis/cert-manager.io/v1", check=False)
    if listing.returncode != 0:
        return []
    return sorted(item["name"] for item in json.loads(listing.stdout)["resources"])


def test_cert_manager_kinds_are_served_until_their_crd_is_deleted(cluster: SandboxCluster, namespace: str):
    """The CRDs of cert-manager's release manifest (deploy/crds: names, scopes, short names; open schemas, none
    being kept in ../shared/schemas); deleting one stops serving its kind (apiextensions-apiserver), and creating
    it again serves it again."""
    assert {"certificates", "issuers", "clusterissuers", "certificaterequests"} <= set(_served(cluster))
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
              "metadata": {"name": "selfsigned-issuer", "namespace": namespace}, "spec": {"selfSigned": {}}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(issuer))
    assert cluster.get("issuers.cert-manager.io", "selfsigned-issuer", "-n", namespace)["spec"] == {"selfSigned": {}}
    crd = cluster.get("crd", "certificates.cert-manager.io")
    assert crd["spec"]["names"]["shortNames"] == ["cert", "certs"]
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]} == {"NamesAccepted": "True",
                                                                             "Established": "True"}
    cluster.kubectl("delete", "crd", "certificates.cert-manager.io")
    try:
        assert "certificates" not in _served(cluster) and "issuers" in _served(cluster)
        assert cluster.kubectl("get", "certificates.cert-manager.io", "-A", check=False).returncode != 0
    finally:
        again = {key: crd[key] for key in ("apiVersion", "kind", "spec")}
        again["metadata"] = {"name": crd["metadata"]["name"], "labels": crd["metadata"].get("labels") or {}}
        cluster.kubectl("create", "-f", "-", stdin=json.dumps(again))
    cluster.kubectl("wait", "crd/certificates.cert-manager.io", "--for=condition=Established", "--timeout=10s")
    assert "certificates" in _served(cluster)
