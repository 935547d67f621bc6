"""What the cluster must have, told from /version, discovery and CNPG's OpenAPI (any identity may read them)."""

import pytest
import yaml

from ansible_collections.mlops.mlflow.plugins.module_utils.cluster_prerequisites import (
    ADVICE, cluster_schema_has_wal_archiver, kubernetes_version, problems)
from tests.support.versions import REPO_ROOT

SERVED = {"postgresql.cnpg.io/v1": ["clusters", "clusters/status", "backups", "scheduledbackups", "databases"],
          "barmancloud.cnpg.io/v1": ["objectstores"],
          "cert-manager.io/v1": ["certificates", "certificates/status", "certificaterequests", "issuers",
                                 "clusterissuers"]}


def cnpg_openapi(with_archiver=True):
    """CNPG 1.30's Cluster CRD schema (../shared/schemas), as /openapi/v3 publishes it, or without 1.26's field."""
    crd = yaml.safe_load((REPO_ROOT.parent / "shared" / "schemas" / "crds" / "postgresql.cnpg.io_clusters.yaml")
                         .read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    if not with_archiver:
        del schema["properties"]["spec"]["properties"]["plugins"]["items"]["properties"]["isWALArchiver"]
    return {"components": {"schemas": {"io.cnpg.postgresql.v1.Cluster": schema}}}


@pytest.mark.parametrize("info, expected", [
    ({"gitVersion": "v1.33.0"}, (1, 33)),
    ({"gitVersion": "v1.31.4-eks-2d5f260"}, (1, 31)),
    ({"gitVersion": "", "major": "1", "minor": "29+"}, (1, 29)),
    ({}, None),
])
def test_kubernetes_version(info, expected):
    assert kubernetes_version(info) == expected


def test_a_cluster_with_everything_passes():
    assert problems({"gitVersion": "v1.33.0"}, SERVED, cnpg_openapi()) == []
    assert cluster_schema_has_wal_archiver(cnpg_openapi())


def test_each_missing_piece_is_named():
    found = problems({"gitVersion": "v1.28.9"}, {"postgresql.cnpg.io/v1": ["clusters", "backups"]},
                     cnpg_openapi(with_archiver=False))
    assert found == [
        "Kubernetes 1.28: 1.29 or later is needed (the Barman Cloud Plugin runs as a native sidecar)",
        "CloudNativePG (1.26 or later) serves no scheduledbackups, databases in postgresql.cnpg.io/v1",
        "the Barman Cloud Plugin is not installed: the API barmancloud.cnpg.io/v1 is not served",
        "cert-manager is not installed: the API cert-manager.io/v1 is not served (%s)" % ADVICE["cert-manager.io/v1"],
        "CloudNativePG is older than 1.26: its Cluster has no spec.plugins[].isWALArchiver, which backups through "
        "the Barman Cloud Plugin need",
    ]


def test_cert_manager_missing_or_partial_is_named_with_what_to_install():
    """The plugin's manifest creates a cert-manager Issuer and Certificates (plugin-barman-cloud installation.md:
    `cmctl check api` before installing): a cluster without them is told to install cert-manager, first."""
    without = {key: value for key, value in SERVED.items() if key != "cert-manager.io/v1"}
    found = problems({"gitVersion": "v1.33.0"}, without, cnpg_openapi())
    assert len(found) == 1
    assert found[0].startswith("cert-manager is not installed: the API cert-manager.io/v1 is not served (")
    assert "install cert-manager (https://cert-manager.io/docs/installation/" in found[0]
    # Its Certificate CRD deleted (kubectl delete crd certificates.cert-manager.io): the group is still served.
    partial = dict(SERVED, **{"cert-manager.io/v1": ["issuers", "clusterissuers", "certificaterequests"]})
    found = problems({"gitVersion": "v1.33.0"}, partial, cnpg_openapi())
    assert found == ["cert-manager serves no certificates in cert-manager.io/v1 (%s)" % ADVICE["cert-manager.io/v1"]]
