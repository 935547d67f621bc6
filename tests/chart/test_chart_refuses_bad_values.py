"""Bad values are refused before anything reaches a cluster, with a message that names the value and the fix."""

from __future__ import annotations

import pytest

from tests.chart.render import OPENSHIFT_API_VERSIONS, ChartError, render


def refusal(values: dict) -> str:
    with pytest.raises(ChartError) as refused:
        render(values, OPENSHIFT_API_VERSIONS)
    return str(refused.value)


@pytest.mark.parametrize("tag", ["latest", "3.5", "v3.5.0-rc1", "3.5.0.1", "V3.5.0", ""])
def test_malformed_image_tag(tag):
    message = refusal({"mlflow": {"image": {"tag": tag}}})
    assert "/mlflow/image/tag" in message and f"'{tag}'" in message


def test_malformed_build_tag():
    message = refusal({"build": {"tag": "next"}})
    assert "/build/tag" in message and "'next'" in message


@pytest.mark.parametrize("name", ["PG-Cluster", "pg_cluster", "1pg", "pg-", "pg.cluster"])
def test_invalid_cluster_name(name):
    message = refusal({"postgresql": {"clusterName": name}})
    assert "/postgresql/clusterName" in message and f"'{name}'" in message


def test_too_long_cluster_name():
    message = refusal({"postgresql": {"clusterName": "pg-" + "x" * 40}})
    assert "/postgresql/clusterName" in message and "40" in message


@pytest.mark.parametrize("target", ["2026-11-20T10:30:00", "2026-11-20T10:30:00.123"])
def test_target_time_without_a_zone(target):
    message = refusal({"postgresql": {"clusterName": "pg-cluster-v2"},
                       "recovery": {"serverName": "pg-cluster-v1", "targetTime": target}})
    assert "/recovery/targetTime" in message and f"'{target}'" in message
    # only the zone check fails, and its pattern is the zone: "Z" or "+hh:mm"/"-hh:mm" at the end
    assert "does not match pattern '(Z|[+-][0-9]{2}:[0-9]{2})$'" in message
    assert message.count("does not match pattern") == 1


@pytest.mark.parametrize("target", ["yesterday", "2026-11-20 10:30Z", "20261120T103000Z"])
def test_target_time_that_is_not_a_time(target):
    message = refusal({"postgresql": {"clusterName": "pg-cluster-v2"},
                       "recovery": {"serverName": "pg-cluster-v1", "targetTime": target}})
    assert "/recovery/targetTime" in message


def test_server_name_equal_to_cluster_name():
    message = refusal({"recovery": {"serverName": "pg-cluster-v1"}})
    assert "recovery.serverName and postgresql.clusterName are both \"pg-cluster-v1\"" in message
    assert "Expected empty archive" in message
    assert "set postgresql.clusterName to a NEW name" in message


@pytest.mark.parametrize("key, value", [("targetTime", "2026-11-20T10:30:00Z"), ("secretName", "app-secret")])
def test_recovery_settings_without_a_server_name(key, value):
    message = refusal({"recovery": {key: value}})
    assert f"recovery.{key} is set but recovery.serverName is empty" in message


def test_recovery_without_any_object_store():
    message = refusal({"backup": {"enabled": False}, "postgresql": {"clusterName": "pg-cluster-v2"},
                       "recovery": {"serverName": "pg-cluster-v1"}})
    assert "recovery.objectStoreName" in message


def test_auth_database_equal_to_the_tracking_database():
    message = refusal({"postgresql": {"authDatabase": "mlflow"}})
    assert "the auth database must be separate" in message


def test_migration_without_a_run_id():
    message = refusal({"migration": {"enabled": True}})
    assert "migration.runId is empty" in message


@pytest.mark.parametrize("run_id", ["Run_1", "-x", "a" * 41])
def test_migration_run_id_that_cannot_name_a_job(run_id):
    assert "/migration/runId" in refusal({"migration": {"enabled": True, "runId": run_id}})


@pytest.mark.parametrize("values, path", [
    ({"backup": {"retentionPolicy": "30 days"}}, "/backup/retentionPolicy"),
    ({"backup": {"schedule": "0 0 * * *"}}, "/backup/schedule"),  # CNPG cron has six fields, seconds first
    ({"mlflow": {"replicas": -1}}, "/mlflow/replicas"),
    ({"mlflow": {"authConfigChecksum": "not-a-sha"}}, "/mlflow/authConfigChecksum"),
    ({"mlflow": {"artifacts": {"destination": "mlflow-artifacts"}}}, "/mlflow/artifacts/destination"),
    ({"openshift": {"enabled": "yes"}}, "/openshift/enabled"),
])
def test_values_out_of_range(values, path):
    assert path in refusal(values)


def test_misspelt_value_names_are_refused_instead_of_ignored():
    message = refusal({"mlflow": {"replica": 0}})
    assert "/mlflow" in message and "'replica' not allowed" in message
    assert "'serverNmae' not allowed" in refusal({"recovery": {"serverNmae": "pg-cluster-v1"}})


def test_route_without_a_known_host():
    message = refusal({"route": {"appsDomain": ""}})
    assert "route.host or route.appsDomain is needed" in message


def test_plain_kubernetes_does_not_need_a_route_host():
    assert render({"route": {"appsDomain": ""}})  # no Route rendered: nothing to add to the allowed hosts
