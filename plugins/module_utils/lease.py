# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure logic of the run lock: a coordination.k8s.io/v1 Lease held by one playbook run at a time."""

from __future__ import annotations

import datetime

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import format_utc, parse_timestamp


class LockHeld(CollectionError):
    """Another live run holds the lock."""

    def __init__(self, holder, renewed, expires):
        self.holder = holder
        self.renewed = renewed
        self.expires = expires
        super().__init__(holder)


def lease_info(lease, now):
    """Who holds `lease` (a dict as the API returns it) and whether that hold has expired at `now`."""
    spec = (lease or {}).get("spec") or {}
    holder = spec.get("holderIdentity")
    renewed_text = spec.get("renewTime") or spec.get("acquireTime")
    renewed = parse_timestamp(renewed_text) if renewed_text else None
    duration = int(spec.get("leaseDurationSeconds") or 0)
    expires = renewed + datetime.timedelta(seconds=duration) if renewed else None
    return {
        "holder": holder,
        "renewed": format_utc(renewed, micro=True) if renewed else None,
        "expires": format_utc(expires, micro=True) if expires else None,
        "expired": holder is None or expires is None or expires <= now,
    }


def plan_acquire(lease, holder, now, force=False):
    """What acquiring the lock for `holder` means given the current `lease` (None when absent).

    Returns one of `create`, `renew` (already ours), `take_over` (free, expired, or `force`); raises LockHeld
    when another run holds a live lock.
    """
    if lease is None:
        return "create"
    info = lease_info(lease, now)
    if info["holder"] == holder:
        return "renew"
    if info["expired"] or force:
        return "take_over"
    raise LockHeld(info["holder"], info["renewed"], info["expires"])


def lease_spec(holder, now, duration_seconds, previous=None):
    """The Lease spec for `holder` from `now` on; the acquire time is kept when renewing our own lock."""
    previous = previous or {}
    same_holder = previous.get("holderIdentity") == holder
    transitions = int(previous.get("leaseTransitions") or 0)
    now_text = format_utc(now, micro=True)
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": int(duration_seconds),
        "acquireTime": previous.get("acquireTime") if same_holder and previous.get("acquireTime") else now_text,
        "renewTime": now_text,
        "leaseTransitions": transitions if same_holder or not previous else transitions + 1,
    }


def plan_release(lease, holder, force=False):
    """`delete` when the lock is ours (or `force`), `absent` when there is none, else `not_ours`."""
    if lease is None:
        return "absent"
    current = ((lease.get("spec") or {}).get("holderIdentity"))
    if current == holder or force:
        return "delete"
    return "not_ours"
