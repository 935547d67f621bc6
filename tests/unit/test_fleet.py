"""The fleet's judgements: what two installations of one run must not share, and the summary of a flow."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.mlflow.plugins.filter.fleet_conflicts import fleet_conflicts
from ansible_collections.mlops.mlflow.plugins.filter.fleet_summary import fleet_summary


def installation(namespace, url, cluster="pg-cluster-v1", backups="s3://backups/pg", artifacts=None, **environment):
    values = {"postgresql": {"clusterName": cluster}, "backup": {"s3": {"destinationPath": backups}},
              "mlflow": {"artifacts": {"destination": artifacts or f"s3://artifacts/{namespace}/"}}}
    return {"mlflow_namespace": namespace, "mlflow_release_name": "mlflow", "mlflow_url": url,
            "mlflow_environment": environment, "mlflow_values": values}


def test_installations_apart_in_every_respect_share_nothing():
    fleet = {"team-a": installation("team-a", "https://a.example.com", backups="s3://backups/a"),
             "team-b": installation("team-b", "https://b.example.com", backups="s3://backups/b"),
             # Same namespace name and same backup path, but another cluster and another server name.
             "prod": installation("team-a", "https://prod.example.com", cluster="pg-prod",
                                  artifacts="s3://artifacts/prod/", K8S_AUTH_CONTEXT="prod")}
    assert fleet_conflicts(fleet) == []


def test_the_same_namespace_on_the_same_cluster_is_named_with_both_installations():
    fleet = {"team-a": installation("mlflow", "https://a.example.com", backups="s3://backups/a"),
             "team-b": installation("mlflow", "https://b.example.com", backups="s3://backups/b",
                                    artifacts="s3://artifacts/b/")}
    assert fleet_conflicts(fleet) == [
        "team-a and team-b share the release mlflow in namespace mlflow on the default kubeconfig, its current context"]


def test_another_context_is_another_cluster_but_the_same_host_is_the_same_cluster():
    apart = {"a": installation("mlflow", "https://a", backups="s3://b/a", artifacts="s3://a/", K8S_AUTH_CONTEXT="east"),
             "b": installation("mlflow", "https://b", backups="s3://b/b", artifacts="s3://b/", K8S_AUTH_CONTEXT="west")}
    assert fleet_conflicts(apart) == []
    same = {"a": installation("mlflow", "https://a", backups="s3://b/a", artifacts="s3://a/",
                              K8S_AUTH_HOST="https://api.one:6443"),
            "b": installation("mlflow", "https://b", backups="s3://b/b", artifacts="s3://b/",
                              K8S_AUTH_HOST="https://api.one:6443")}
    assert fleet_conflicts(same) == ["a and b share the release mlflow in namespace mlflow on api https://api.one:6443"]


def test_a_shared_backup_archive_url_and_artifact_store_are_each_named():
    fleet = {"a": installation("a", "https://mlflow.example.com/", artifacts="s3://art/shared"),
             "b": installation("b", "https://MLflow.example.com", artifacts="s3://art/shared/")}
    assert sorted(fleet_conflicts(fleet)) == [
        "a and b share the URL https://mlflow.example.com",
        "a and b share the artifact store s3://art/shared",
        "a and b share the backup archive s3://backups/pg/pg-cluster-v1",
    ]


def test_bad_input_is_refused_clearly():
    with pytest.raises(AnsibleFilterError, match="installation a: expected its variables as a mapping"):
        fleet_conflicts({"a": "mlflow"})
    with pytest.raises(AnsibleFilterError, match="expected installations by host name"):
        fleet_conflicts(["a"])
    with pytest.raises(AnsibleFilterError, match="flow must be one of"):
        fleet_summary({}, "migrate")
    with pytest.raises(AnsibleFilterError, match="result 'done' is none of"):
        fleet_summary({"a": {"result": "done"}}, "upgrade")


def test_an_upgrade_summary_keeps_the_order_and_says_who_failed_and_who_was_not_started():
    summary = fleet_summary({
        "team-a": {"result": "succeeded", "namespace": "a", "from": "3.4.0", "to": "3.5.0", "path": "migrate",
                   "downtime_seconds": 14.25},
        "team-b": {"result": "failed", "namespace": "b", "from": "3.4.0", "to": "3.5.0",
                   "message": "The migration failed; rolled back to 3.4.0."},
        "prod": None,
    }, "upgrade", finished="2026-12-03T17:00:00Z")
    assert [row["installation"] for row in summary["rows"]] == ["team-a", "team-b", "prod"]
    assert [row["result"] for row in summary["rows"]] == ["succeeded", "failed", "not started"]
    assert summary["counts"] == {"succeeded": 1, "failed": 1, "not started": 1}
    assert summary["failed"] == ["team-b"] and summary["installations"] == 3
    assert summary["rows"][0]["downtime_seconds"] == 14.25 and summary["finished"] == "2026-12-03T17:00:00Z"
    lines = summary["lines"]
    assert lines[0].split() == ["installation", "namespace", "result", "from", "to", "path", "downtime_seconds"]
    assert lines[1].split() == ["team-a", "a", "succeeded", "3.4.0", "3.5.0", "migrate", "14.2"]
    assert lines[3].split()[:3] == ["prod", "-", "not"]
    assert "upgrade: 1 succeeded, 1 failed, 1 not started" in lines
    assert "team-b: The migration failed; rolled back to 3.4.0." in lines
    assert "prod: not started in this run" in lines


def test_a_backup_check_summary_has_its_own_columns():
    summary = fleet_summary({"a": {"result": "succeeded", "last_backup_age_hours": 0.1,
                                   "continuous_archiving": True, "first_recoverability_point": "2026-12-03T16:00:00Z"}},
                            "backup_check")
    assert summary["rows"] == [{"installation": "a", "namespace": None, "result": "succeeded", "message": "",
                                "last_backup_age_hours": 0.1, "continuous_archiving": True,
                                "first_recoverability_point": "2026-12-03T16:00:00Z"}]
    assert summary["lines"][-1] == "backup_check: 1 succeeded, 0 failed, 0 not started"


def test_a_drill_namespace_given_to_every_installation_is_shared():
    fleet = {"a": dict(installation("a", "https://a", backups="s3://b/a"), drill_namespace="mlflow-drill"),
             "b": dict(installation("b", "https://b", backups="s3://b/b"), drill_namespace="mlflow-drill")}
    assert fleet_conflicts(fleet) == [
        "a and b share the drill namespace mlflow-drill on the default kubeconfig, its current context"]
