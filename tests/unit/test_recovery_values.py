"""The values transform: which cluster is restored into which, and the four keys that move."""

import copy

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.cluster_name import ClusterNameError
from ansible_collections.mlops.mlflow.plugins.module_utils.recovery_values import (
    RecoveryValuesError, apply_updates, recovery_updates, resolve_names)
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import parse_target_time


def live_values(cluster="pg-cluster-v1", replicas=1):
    return {
        "mlflow": {"replicas": replicas, "image": {"tag": "3.5.0"}},
        "postgresql": {"clusterName": cluster, "instances": 1},
        "recovery": {"serverName": "", "targetTime": "", "secretName": "app-secret", "objectStoreName": ""},
        "backup": {"s3": {"destinationPath": "s3://bucket/mlflow-pg"}},
    }


class Prepared:
    """One preparation: the resolved names, the updates and the resulting values."""

    def __init__(self, values, target=None, **options):
        self.names = resolve_names(values, **options)
        self.updates = recovery_updates(values, self.names, parse_target_time(target) if target else None)
        self.values = apply_updates(values, self.updates)

    def __iter__(self):
        return iter((self.names, self.updates, self.values))


def prepare(values, target=None, **options):
    return Prepared(values, target, **options)


def test_first_recovery_bumps_and_sets_exactly_four_keys():
    values = live_values()
    before = copy.deepcopy(values)
    names, updates, prepared = prepare(values, target="2026-11-20T23:45:00+02:00")
    assert (names.source, names.new, names.already_prepared) == ("pg-cluster-v1", "pg-cluster-v2", False)
    assert updates == {"postgresql.clusterName": "pg-cluster-v2", "recovery.serverName": "pg-cluster-v1",
                       "recovery.targetTime": "2026-11-20T21:45:00Z", "mlflow.replicas": 0}
    expected = copy.deepcopy(before)
    expected["postgresql"]["clusterName"] = "pg-cluster-v2"
    expected["recovery"].update(serverName="pg-cluster-v1", targetTime="2026-11-20T21:45:00Z")
    expected["mlflow"]["replicas"] = 0
    assert prepared == expected
    assert values == before, "the input values must not be modified"


def test_explicit_new_name_and_no_target():
    names, updates, _values = prepare(live_values(), new_cluster_name="mlflow-db-restored")
    assert names.new == "mlflow-db-restored"
    assert "recovery.targetTime" not in updates


def test_second_run_on_prepared_values_changes_nothing():
    prepared = prepare(live_values(), target="2026-11-20T21:45:00Z").values
    names, updates, again = prepare(prepared, target="2026-11-20T21:45:00Z")
    assert (names.source, names.new, names.already_prepared) == ("pg-cluster-v1", "pg-cluster-v2", True)
    assert updates == {}
    assert again == prepared
    names, updates, _values = prepare(prepared, target="2026-11-20T21:45:00Z", new_cluster_name="pg-cluster-v2")
    assert updates == {} and names.already_prepared


def test_same_instant_in_another_zone_is_not_a_change():
    prepared = prepare(live_values(), target="2026-11-20T21:45:00Z").values
    updates = prepare(prepared, target="2026-11-20T23:45:00+02:00").updates
    assert updates == {}


def test_another_target_on_prepared_values_only_moves_the_target():
    prepared = prepare(live_values(), target="2026-11-20T21:45:00Z").values
    updates = prepare(prepared, target="2026-11-20T20:00:00Z").updates
    assert updates == {"recovery.targetTime": "2026-11-20T20:00:00Z"}


def test_no_target_clears_an_old_target():
    prepared = prepare(live_values(), target="2026-11-20T21:45:00Z").values
    updates = prepare(prepared).updates
    assert updates == {"recovery.targetTime": ""}


def test_new_recovery_from_a_recovered_cluster_needs_the_source():
    prepared = prepare(live_values(), target="2026-11-20T21:45:00Z").values
    prepared["mlflow"]["replicas"] = 1  # scaled back up after the first recovery
    names, updates, _values = prepare(prepared, source_cluster_name="pg-cluster-v2")
    assert (names.source, names.new) == ("pg-cluster-v2", "pg-cluster-v3")
    assert updates == {"postgresql.clusterName": "pg-cluster-v3", "recovery.serverName": "pg-cluster-v2",
                       "recovery.targetTime": "", "mlflow.replicas": 0}


def test_restoring_the_old_source_into_another_name():
    prepared = prepare(live_values()).values
    names, updates, _values = prepare(prepared, source_cluster_name="pg-cluster-v1", new_cluster_name="pg-cluster-v5")
    assert (names.source, names.new) == ("pg-cluster-v1", "pg-cluster-v5")
    assert updates == {"postgresql.clusterName": "pg-cluster-v5"}


def test_other_new_name_on_prepared_values_is_ambiguous():
    prepared = prepare(live_values()).values
    with pytest.raises(RecoveryValuesError, match="source_cluster_name: pg-cluster-v2") as error:
        prepare(prepared, new_cluster_name="pg-cluster-v7")
    assert "source_cluster_name: pg-cluster-v1" in str(error.value)


def test_unknown_source_is_refused():
    with pytest.raises(RecoveryValuesError, match="neither postgresql.clusterName"):
        prepare(live_values(), source_cluster_name="pg-cluster-v7")


def test_new_name_equal_to_old_is_refused_with_a_suggestion():
    with pytest.raises(RecoveryValuesError, match="Expected empty archive") as error:
        prepare(live_values(), new_cluster_name="pg-cluster-v1")
    assert "pg-cluster-v2" in str(error.value)


def test_reusing_the_name_of_an_earlier_source_is_refused():
    prepared = prepare(live_values()).values
    with pytest.raises(RecoveryValuesError, match="never used before"):
        prepare(prepared, source_cluster_name="pg-cluster-v2", new_cluster_name="pg-cluster-v1")


@pytest.mark.parametrize("name", ["PG", "pg_cluster", "x" * 41])
def test_invalid_new_name_is_refused(name):
    with pytest.raises(ClusterNameError, match="new_cluster_name"):
        prepare(live_values(), new_cluster_name=name)


def test_bump_past_the_length_limit_asks_for_a_name():
    with pytest.raises(ClusterNameError, match="set new_cluster_name"):
        prepare(live_values(cluster="c" * 39))


def test_values_without_cluster_name_are_refused():
    with pytest.raises(RecoveryValuesError, match="no postgresql.clusterName"):
        prepare({"mlflow": {"replicas": 1}})


def test_server_name_equal_to_cluster_name_counts_as_live():
    values = live_values()
    values["recovery"]["serverName"] = "pg-cluster-v1"
    names, updates, _values = prepare(values)
    assert (names.source, names.new) == ("pg-cluster-v1", "pg-cluster-v2")
    assert "recovery.serverName" not in updates


def test_missing_sections_are_created():
    values = {"postgresql": {"clusterName": "pg-cluster"}}
    _names, updates, prepared = prepare(values, target="2026-11-20T21:45:00Z")
    assert prepared == {"postgresql": {"clusterName": "pg-cluster-v2"}, "mlflow": {"replicas": 0},
                        "recovery": {"serverName": "pg-cluster", "targetTime": "2026-11-20T21:45:00Z"}}
    assert sorted(updates) == ["mlflow.replicas", "postgresql.clusterName", "recovery.serverName",
                               "recovery.targetTime"]


def test_replicas_already_zero_is_no_change_but_false_is():
    updates = prepare(live_values(replicas=0)).updates
    assert "mlflow.replicas" not in updates
    updates = prepare(live_values(replicas=False)).updates
    assert updates["mlflow.replicas"] == 0


def test_a_non_mapping_section_is_refused():
    values = live_values()
    values["mlflow"] = "disabled"
    with pytest.raises(RecoveryValuesError, match="mlflow is a str"):
        prepare(values)


def test_started_recovery_changes_nothing_and_refuses_another_target():
    prepared = prepare(live_values(), target="2026-11-20T21:45:00Z").values
    prepared["mlflow"]["replicas"] = 2
    names = resolve_names(prepared)
    assert recovery_updates(prepared, names, parse_target_time("2026-11-20T21:45:00Z"), started=True) == {}
    with pytest.raises(RecoveryValuesError, match="already started"):
        recovery_updates(prepared, names, parse_target_time("2026-11-20T20:00:00Z"), started=True)
