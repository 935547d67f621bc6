"""resource_wait's judgements: when a rollout, a cluster or a backup is done, and what a person reads meanwhile."""

import pytest

from ansible_collections.mlops.mlflow.plugins.action import resource_wait as action
from ansible_collections.mlops.mlflow.plugins.module_utils.resource_wait import (
    backup_finished, build_finished, cluster_ready, deployment_rolled_out, restore_summary, state)
from ansible_collections.mlops.mlflow.plugins.modules import resource_wait as module


def deployment(generation=2, observed=2, wanted=2, updated=2, available=2, replicas=2):
    return {"metadata": {"generation": generation}, "spec": {"replicas": wanted},
            "status": {"observedGeneration": observed, "updatedReplicas": updated,
                       "availableReplicas": available, "replicas": replicas}}


def test_a_deployment_is_rolled_out_only_when_every_replica_runs_the_latest_spec():
    assert deployment_rolled_out(deployment(), {})
    # Right after a spec change the controller has not seen it yet: the old pods still count as available.
    assert not deployment_rolled_out(deployment(generation=3), {})
    # Mid-rollout: the old replicas are available, the new one is not (kubernetes.core's deployment_ready says yes).
    assert not deployment_rolled_out(deployment(updated=1, replicas=3), {})
    # The surge pod is up but the old one is still there.
    assert not deployment_rolled_out(deployment(available=3, replicas=3), {})
    assert not deployment_rolled_out({}, {})
    # Scaled to zero (the upgrade's stop): done once the controller saw it and no pod is left.
    assert deployment_rolled_out(deployment(wanted=0, updated=0, available=0, replicas=0), {})
    assert not deployment_rolled_out(deployment(wanted=0, updated=0, available=1, replicas=1), {})


def cluster(ready="True", archiving=None, message=None):
    conditions = [{"type": "Ready", "status": ready}]
    if archiving:
        conditions.append({"type": "ContinuousArchiving", "status": archiving, "message": message or ""})
    return {"spec": {"instances": 3}, "status": {"phase": "Cluster in healthy state", "readyInstances": 3,
                                                 "conditions": conditions}}


def test_a_cluster_is_ready_and_archiving_when_the_flow_needs_wal_in_the_store():
    assert cluster_ready(cluster(), {"require_archiving": False})
    assert not cluster_ready(cluster(), {"require_archiving": True})
    assert not cluster_ready(cluster(archiving="False"), {"require_archiving": True})
    assert cluster_ready(cluster(archiving="True"), {"require_archiving": True})
    assert not cluster_ready(cluster(ready="False", archiving="True"), {"require_archiving": True})
    assert not cluster_ready({}, {"require_archiving": False})


def test_a_backup_is_finished_in_a_final_phase_whether_it_succeeded_or_not():
    assert backup_finished({"status": {"phase": "completed"}}, {})
    assert backup_finished({"status": {"phase": "failed"}}, {})
    assert not backup_finished({"status": {"phase": "running"}}, {})
    assert not backup_finished({"metadata": {"name": "b"}}, {})


def test_a_build_is_finished_in_a_final_phase_whether_it_pushed_or_not():
    for phase in ("Complete", "Failed", "Error", "Cancelled"):
        assert build_finished({"status": {"phase": phase}}, {}), phase
    for phase in ("New", "Pending", "Running"):
        assert not build_finished({"status": {"phase": phase}}, {}), phase
    assert not build_finished({"metadata": {"name": "mlflow-v3-5-0-1"}}, {})


def test_what_a_person_reads_while_waiting():
    assert state("Deployment", deployment(updated=1, available=1, replicas=3), {}) == \
        "1 of 2 replicas updated, 1 available, 3 in all"
    assert state("Cluster", cluster(archiving="False", message="unexpected failure invoking barman-cloud-wal-archive"),
                 {"require_archiving": True}) == ("phase Cluster in healthy state, 3 of 3 instances ready, archiving: "
                                                  "unexpected failure invoking barman-cloud-wal-archive")
    assert state("Backup", {"status": {"phase": "running", "startedAt": "2026-12-03T10:00:00Z"}}, {}) == \
        "phase running since 2026-12-03T10:00:00Z"
    assert state("Backup", {}, {}) == "not found"
    assert state("Build", {"status": {"phase": "Running", "startTimestamp": "2026-12-04T10:00:00Z"}}, {}) == \
        "phase Running since 2026-12-04T10:00:00Z"
    assert state("Build", {"status": {"phase": "New", "reason": "InvalidOutputReference"}}, {}) == \
        "phase New (InvalidOutputReference)"


def test_what_a_person_reads_of_a_restore():
    mb = 1048576
    # 640 MB of 1165 in 8 s: the rest at that rate.
    assert restore_summary("Running", 640 * mb, 1165 * mb, 8.0) == \
        "base backup restore: 640 MB of 1165 MB (54%), about 7 s left"
    # The restored folder outgrows the estimate (files added after the backup started): never 100% while running,
    # and no time left to guess.
    assert restore_summary("Running", 1200 * mb, 1165 * mb, 20.0) == "base backup restore: 1200 MB of 1165 MB (99%)"
    # Nothing restored yet, or du not possible (no pods/exec): no rate to guess from.
    assert restore_summary("Running", 0, 1165 * mb, 1.0) == "base backup restore: 0 MB of 1165 MB (0%)"
    # An empty PGDATA (the folder itself, 4 kB) or a first few MB: too little for a rate.
    assert restore_summary("Running", 4096, 1165 * mb, 5.0) == "base backup restore: 0 MB of 1165 MB (0%)"
    assert restore_summary("Running", 10 * mb, 1165 * mb, 5.0) == "base backup restore: 10 MB of 1165 MB (0%)"
    assert restore_summary("Running", None, 1165 * mb, 3.0) == "restoring the base backup (1165 MB when it was taken)"
    assert restore_summary("Succeeded", None, 1165 * mb, None) == "base backup restored, replaying WAL"
    assert restore_summary("", None, 1165 * mb, None) == ""


@pytest.mark.parametrize("option, default", [("wait_timeout", action.DEFAULT_TIMEOUT),
                                             ("progress_interval", action.DEFAULT_PROGRESS_INTERVAL)])
def test_the_action_plugin_slices_the_wait_with_the_module_defaults(option, default):
    assert module.ARGUMENT_SPEC[option]["default"] == default


@pytest.mark.parametrize("value, problem", [("soon", "whole number of seconds"), (0, "at least 1 second")])
def test_the_action_plugin_refuses_a_wait_that_is_not_a_positive_number_of_seconds(value, problem):
    with pytest.raises(action.AnsibleActionFail, match=problem):
        action._seconds({"wait_timeout": value}, "wait_timeout", 900)  # pylint: disable=protected-access
