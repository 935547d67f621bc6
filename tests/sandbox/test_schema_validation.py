"""Writes are validated against the real schemas: a CNPG Cluster with a wrong field or type is refused the way
a real API server refuses it, a valid one is stored (with its CRD defaults)."""

from __future__ import annotations

import json
import textwrap

import pytest

from sandbox.paths import SCHEMAS_DIR
from tests.sandbox.cluster import SandboxCluster

pytestmark = pytest.mark.skipif(not (SCHEMAS_DIR / "crds" / "postgresql.cnpg.io_clusters.yaml").is_file(),
                                reason=f"CNPG CRD schemas missing from {SCHEMAS_DIR} (set MLOPS_SCHEMAS_DIR)")

CLUSTER = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
           "spec": {"instances": 1, "storage": {"size": "1Gi"},
                    "plugins": [{"name": "barman-cloud.cloudnative-pg.io", "isWALArchiver": True,
                                 "parameters": {"barmanObjectName": "store"}}]}}


def _cluster_task(namespace: str, spec_override: dict, register: str) -> str:
    body = json.loads(json.dumps(CLUSTER))
    body["metadata"]["namespace"] = namespace
    body["spec"].update(spec_override)
    return textwrap.dedent(f"""\
        - name: Write a Cluster
          kubernetes.core.k8s:
            state: present
            definition: {json.dumps(body)}
          register: {register}
          ignore_errors: true
        """)


def test_kubernetes_core_gets_the_schema_error_for_a_wrong_type(cluster: SandboxCluster, namespace: str):
    run = cluster.playbook(_cluster_task(namespace, {"instances": "three"}, "r_wrong_type")
                           + _cluster_task(namespace, {}, "r_valid"))
    assert run["r_wrong_type"]["failed"] is True
    # kubernetes.core reports the API's Status: `Failed to create object: {Status JSON}`.
    status = json.loads(run["r_wrong_type"]["msg"].split(": ", 1)[1])
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert status["details"]["causes"] == [{
        "reason": "FieldValueTypeInvalid", "field": "spec.instances",
        "message": 'Invalid value: "three": spec.instances in body must be of type integer: "three"'}]
    assert run["r_valid"]["changed"] is True
    stored = cluster.get("clusters.postgresql.cnpg.io", "pg", "-n", namespace)
    assert stored["spec"]["instances"] == 1
    assert stored["spec"]["postgresUID"] == 26  # a default from the CRD schema, applied by the API server
    cluster.kubectl("wait", "clusters.postgresql.cnpg.io/pg", "-n", namespace, "--for=condition=Ready",
                    "--timeout=30s")
    status = cluster.get("clusters.postgresql.cnpg.io", "pg", "-n", namespace)["status"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"Ready": "True", "ContinuousArchiving": "True"}


def test_kubectl_strict_validation_names_the_unknown_field(cluster: SandboxCluster, namespace: str):
    body = json.loads(json.dumps(CLUSTER))
    body["spec"]["storage"]["sizee"] = "2Gi"
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False)
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "spec.storage.sizee"' in result.stderr
    # A missing required field is a 422 with the field named.
    del body["spec"]["storage"]["sizee"]
    body["spec"]["plugins"] = [{"isWALArchiver": True}]
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False)
    assert result.returncode != 0
    assert "spec.plugins[0].name: Required value" in result.stderr
    assert cluster.kubectl("get", "clusters.postgresql.cnpg.io", "pg", "-n", namespace,
                           check=False).returncode != 0


def test_custom_resources_refuse_strategic_merge_patch(cluster: SandboxCluster, namespace: str):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(CLUSTER))
    refused = cluster.kubectl("patch", "clusters.postgresql.cnpg.io", "pg", "-n", namespace, "--type=strategic",
                              "-p", '{"spec":{"instances":2}}', check=False)
    assert refused.returncode != 0
    assert "the body of the request was in an unknown format" in refused.stderr
    cluster.kubectl("patch", "clusters.postgresql.cnpg.io", "pg", "-n", namespace, "--type=merge",
                    "-p", '{"spec":{"instances":2}}')
    assert cluster.get("clusters.postgresql.cnpg.io", "pg", "-n", namespace)["spec"]["instances"] == 2
