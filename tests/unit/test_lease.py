"""The run lock's decisions: create, renew, take over a stale lock, refuse a live one."""

import datetime

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.lease import (
    LockHeld, lease_info, lease_spec, plan_acquire, plan_release)
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import format_utc, parse_timestamp

NOW = datetime.datetime(2026, 11, 30, 12, 0, 0, tzinfo=datetime.timezone.utc)


def lease(holder, renewed_minutes_ago, duration=600):
    renewed = NOW - datetime.timedelta(minutes=renewed_minutes_ago)
    return {"spec": {"holderIdentity": holder, "renewTime": format_utc(renewed, micro=True),
                     "acquireTime": format_utc(renewed, micro=True), "leaseDurationSeconds": duration}}


def test_free_namespace_creates():
    assert plan_acquire(None, "run-a", NOW) == "create"


def test_own_lock_is_renewed():
    assert plan_acquire(lease("run-a", 1), "run-a", NOW) == "renew"


def test_live_lock_of_another_run_is_refused_with_its_holder_and_expiry():
    with pytest.raises(LockHeld) as caught:
        plan_acquire(lease("run-a", 1), "run-b", NOW)
    assert caught.value.holder == "run-a"
    assert caught.value.expires == "2026-11-30T12:09:00.000000Z"


def test_expired_lock_is_taken_over():
    assert plan_acquire(lease("run-a", 11), "run-b", NOW) == "take_over"


def test_force_takes_over_a_live_lock():
    assert plan_acquire(lease("run-a", 1), "run-b", NOW, force=True) == "take_over"


def test_released_lease_without_holder_is_free():
    assert lease_info({"spec": {"leaseDurationSeconds": 60}}, NOW)["expired"] is True


def test_spec_keeps_acquire_time_on_renew_and_counts_transitions():
    old = lease("run-a", 5)["spec"]
    old["leaseTransitions"] = 2
    renewed = lease_spec("run-a", NOW, 600, old)
    assert renewed["acquireTime"] == old["acquireTime"]
    assert renewed["renewTime"] == format_utc(NOW, micro=True)
    assert renewed["leaseTransitions"] == 2
    taken = lease_spec("run-b", NOW, 600, old)
    assert taken["acquireTime"] == format_utc(NOW, micro=True)
    assert taken["leaseTransitions"] == 3


@pytest.mark.parametrize("value", ["2026-11-30T12:00:00Z", "2026-11-30T12:00:00.000000Z",
                                   "2026-11-30T12:00:00+00:00"])
def test_lease_times_parse_in_every_form_the_api_writes(value):
    assert parse_timestamp(value) == NOW


def test_release_only_our_own_lock():
    assert plan_release(None, "run-a") == "absent"
    assert plan_release(lease("run-a", 1), "run-a") == "delete"
    assert plan_release(lease("run-a", 1), "run-b") == "not_ours"
    assert plan_release(lease("run-a", 1), "run-b", force=True) == "delete"
