"""The backup check's judgement (filter backup_health): the report as the role returned it, and every problem named."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.mlflow.plugins.filter.backup_health import FilterModule, backup_health

NOW = "2026-11-21T06:00:00Z"
NAME = "pg-cluster-v1"


def cluster(**conditions: str) -> dict:
    return {"metadata": {"name": NAME},
            "status": {"conditions": [{"type": kind, "status": status} for kind, status in conditions.items()]}}


def store(**window: str) -> dict:
    return {"status": {"serverRecoveryWindow": {NAME: window, "other-cluster": {"firstRecoverabilityPoint": "x"}}}}


HEALTHY_CLUSTER = cluster(Ready="True", ContinuousArchiving="True")
HEALTHY_STORE = store(firstRecoverabilityPoint="2026-11-20T00:00:05Z", lastSuccessfulBackupTime="2026-11-21T00:00:05Z")


def test_healthy_backups_give_the_full_report_and_no_problem():
    result = backup_health(HEALTHY_CLUSTER, NAME, object_store=HEALTHY_STORE, max_age_hours=26, now=NOW)
    assert result == {"report": {
        "cluster": NAME, "ready": True, "continuous_archiving": True,
        "first_recoverability_point": "2026-11-20T00:00:05Z", "last_successful_backup": "2026-11-21T00:00:05Z",
        "last_failed_backup": None, "last_backup_age_hours": 6.0}, "problems": []}


def test_the_age_is_rounded_to_hundredths_and_measured_from_a_whole_second():
    result = backup_health(HEALTHY_CLUSTER, NAME, object_store=HEALTHY_STORE, now="2026-11-21T06:30:00.999Z")
    assert result["report"]["last_backup_age_hours"] == 6.5  # 23395 s / 3600 = 6.4986...


def test_every_problem_is_named_in_order():
    store_ = store(lastSuccessfulBackupTime="2026-11-19T00:00:00Z", lastFailedBackupTime="2026-11-20T00:00:00+01:00")
    result = backup_health(cluster(Ready="False"), NAME, object_store=store_, max_age_hours=26, now=NOW)
    assert result["problems"] == [
        "the cluster is not Ready",
        "WAL archiving is not working (ContinuousArchiving is not True)",
        "no recoverability window: no completed base backup",
        "the newest base backup is 54.0 h old (limit 26 h)",
        "a backup failed at 2026-11-20T00:00:00+01:00, after the last successful one",
    ]
    assert result["report"]["ready"] is False and result["report"]["continuous_archiving"] is False


def test_a_failure_before_the_last_success_is_no_problem():
    store_ = store(firstRecoverabilityPoint="2026-11-20T00:00:05Z", lastSuccessfulBackupTime="2026-11-21T00:00:05Z",
                   lastFailedBackupTime="2026-11-20T12:00:00Z")
    assert backup_health(HEALTHY_CLUSTER, NAME, object_store=store_, now=NOW)["problems"] == []


def test_a_missing_cluster_and_object_store_status_are_problems_not_errors():
    result = backup_health({}, NAME, object_store={}, now=NOW)
    assert result["report"] == {
        "cluster": NAME, "ready": False, "continuous_archiving": False, "first_recoverability_point": None,
        "last_successful_backup": None, "last_failed_backup": None, "last_backup_age_hours": None}
    assert len(result["problems"]) == 3
    assert backup_health({"status": {"conditions": None}}, NAME, object_store=None, now=NOW) == result


def test_the_window_of_another_cluster_is_not_read():
    result = backup_health(HEALTHY_CLUSTER, "pg-cluster-v2", object_store=HEALTHY_STORE, now=NOW)
    assert result["report"]["first_recoverability_point"] is None
    assert result["problems"] == ["no recoverability window: no completed base backup"]


@pytest.mark.parametrize("limit, too_old", [(6, False), (5.99, True), ("26", False), ("5", True)])
def test_the_limit_is_inclusive_and_may_come_as_a_string(limit, too_old):
    problems = backup_health(HEALTHY_CLUSTER, NAME, object_store=HEALTHY_STORE, max_age_hours=limit, now=NOW)["problems"]
    assert any("old (limit" in problem for problem in problems) is too_old


def test_the_last_condition_of_a_type_wins():
    flapping = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Ready", "status": "True"},
                                          {"type": "ContinuousArchiving", "status": "True"}]}}
    assert backup_health(flapping, NAME, object_store=HEALTHY_STORE, now=NOW)["problems"] == []


def test_without_now_the_age_is_measured_from_the_current_time():
    age = backup_health(HEALTHY_CLUSTER, NAME, object_store=HEALTHY_STORE)["report"]["last_backup_age_hours"]
    assert age > 6.0


@pytest.mark.parametrize("kwargs, message", [
    ({"max_age_hours": "a day"}, "max_age_hours must be a number"),
    ({"object_store": store(lastSuccessfulBackupTime="yesterday")}, "not a timestamp"),
])
def test_bad_input_is_refused_with_a_filter_error(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        backup_health(HEALTHY_CLUSTER, NAME, now=NOW, **kwargs)


def test_the_plugin_exports_the_filter():
    assert FilterModule().filters() == {"backup_health": backup_health}
