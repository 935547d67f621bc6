"""The application Secret of a CloudNativePG Cluster (filter cnpg_app_secret), derived as the operator derives it:
CNPG `api/v1/cluster_funcs.go`, `GetApplicationSecretName` (recovery, then pg_basebackup, then initdb secret, then
`<cluster>-app`)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.mlflow.plugins.filter.cnpg_app_secret import FilterModule, cnpg_app_secret


def cluster(bootstrap: dict | None = None, name: str = "pg-cluster-v2") -> dict:
    spec = {"instances": 1}
    if bootstrap is not None:
        spec["bootstrap"] = bootstrap
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": name}, "spec": spec}


@pytest.mark.parametrize(("bootstrap", "expected"), [
    (None, "pg-cluster-v2-app"),
    ({"initdb": {"database": "mlflow", "owner": "mlflow"}}, "pg-cluster-v2-app"),
    ({"initdb": {"secret": {"name": "owner-credentials"}}}, "owner-credentials"),
    ({"recovery": {"source": "origin"}}, "pg-cluster-v2-app"),
    ({"recovery": {"source": "origin", "secret": {"name": "pg-cluster-v1-app"}}}, "pg-cluster-v1-app"),
    ({"recovery": {"source": "origin", "secret": {"name": ""}}}, "pg-cluster-v2-app"),
    ({"pg_basebackup": {"source": "origin", "secret": {"name": "cloned"}}}, "cloned"),
    # Only one method is allowed by the webhook; the operator's order decides should a spec carry several.
    ({"initdb": {"secret": {"name": "initdb-secret"}}, "recovery": {"secret": {"name": "recovery-secret"}}},
     "recovery-secret"),
], ids=["no-bootstrap", "initdb", "initdb-secret", "recovery", "recovery-secret", "recovery-empty-secret",
        "pg-basebackup-secret", "recovery-first"])
def test_the_secret_is_the_one_the_operator_uses(bootstrap, expected):
    assert cnpg_app_secret(cluster(bootstrap)) == expected


@pytest.mark.parametrize("value", [None, "pg-cluster-v1", {"spec": {}}, {"metadata": {}}])
def test_anything_but_a_cluster_is_refused_by_name(value):
    with pytest.raises(AnsibleFilterError, match="cnpg_app_secret: expected a CloudNativePG Cluster object"):
        cnpg_app_secret(value)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {"cnpg_app_secret": cnpg_app_secret}
