"""Who else owns a Deployment's spec.replicas (filter replicas_owners), read from managedFields as kube-apiserver
writes them (Kubernetes "Server-Side Apply": each manager's fields keyed by manager, operation and subresource; an
apply that changes a field another manager owns is a conflict, unless forced). The entries below are the shapes the
sandbox's API server wrote after Helm 4 applied the chart and `kubectl scale deployment/mlflow --replicas=2` ran."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.mlflow.plugins.filter.replicas_owners import FilterModule, replicas_owners

HELM_APPLY = {"manager": "helm", "operation": "Apply", "apiVersion": "apps/v1",
              "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}}}
HELM_APPLY_WITHOUT_REPLICAS = dict(HELM_APPLY, fieldsV1={"f:spec": {"f:template": {}}})
KUBECTL_SCALE = {"manager": "kubectl", "operation": "Update", "subresource": "scale", "apiVersion": "apps/v1",
                 "fieldsV1": {"f:spec": {"f:replicas": {}}}}
CONTROLLER_STATUS = {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
                     "fieldsV1": {"f:status": {"f:replicas": {}, "f:readyReplicas": {}}}}
HELM3_UPDATE = {"manager": "helm", "operation": "Update", "apiVersion": "apps/v1",
                "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}}}


def deployment(*entries: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mlflow", "managedFields": list(entries)}}


@pytest.mark.parametrize(("entries", "expected"), [
    # Helm alone: nothing to take back.
    ((HELM_APPLY, CONTROLLER_STATUS), []),
    # `kubectl scale` changed the count: kubectl took the field (Helm's entry lost it).
    ((HELM_APPLY_WITHOUT_REPLICAS, KUBECTL_SCALE, CONTROLLER_STATUS), ["kubectl (Update through /scale)"]),
    # Scaled to the count Helm applied: both own it, and Helm applying another count conflicts all the same.
    ((HELM_APPLY, KUBECTL_SCALE), ["kubectl (Update through /scale)"]),
    ((HELM_APPLY, dict(KUBECTL_SCALE, manager="oc"), dict(KUBECTL_SCALE, manager="kubectl-edit", subresource=None)),
     ["kubectl-edit (Update)", "oc (Update through /scale)"]),
    # Nothing applies it server-side (Helm 3's three-way merge, or Helm 4 on client-side apply): no conflict can
    # happen, and --force-conflicts would be refused.
    ((HELM3_UPDATE, KUBECTL_SCALE), []),
    ((), []),
])
def test_owners_of_the_replica_count_other_than_the_server_side_applier(entries, expected):
    assert replicas_owners(deployment(*entries)) == expected


def test_a_deployment_read_without_managed_fields_or_not_found_has_no_other_owner():
    assert replicas_owners({"metadata": {"name": "mlflow"}}) == []
    assert replicas_owners({}) == []  # `first | default({})` of a Deployment that does not exist


def test_anything_but_an_object_is_refused():
    with pytest.raises(AnsibleFilterError, match="expected a Deployment object"):
        replicas_owners(["mlflow"])
    assert FilterModule().filters()["replicas_owners"] is replicas_owners
