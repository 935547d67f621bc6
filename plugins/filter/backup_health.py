# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_health
short_description: Judge whether a CNPG cluster could be recovered as promised, from its state and its ObjectStore's
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Reads what CloudNativePG and the Barman Cloud Plugin report - the Cluster's C(Ready) and C(ContinuousArchiving)
    conditions, and the cluster's entry in the ObjectStore's C(status.serverRecoveryWindow) - and returns the
    report of the backup check with every problem found.
  - A problem is - the cluster is not Ready; WAL archiving is not working; there is no recoverability window (no
    completed base backup); the newest base backup is older than O(max_age_hours); a backup failed after the last
    successful one.
  - The backup_check role uses it; it is pure (no cluster access), so it can be tested without one.
options:
  _input:
    description: The Cluster resource as C(kubernetes.core.k8s_info) returns it; an empty dictionary when it does not exist.
    type: dict
    required: true
  name:
    description: The cluster's name (its key in the recovery window, and the report's C(cluster)).
    type: str
    required: true
  object_store:
    description: The ObjectStore resource that holds the cluster's backups (with its C(status)).
    type: dict
    default: {}
  max_age_hours:
    description: Oldest acceptable age of the newest base backup, in hours.
    type: float
    default: 26
  now:
    description: The time to measure the backup's age against (RFC 3339); the current time when not given.
    type: str
"""

EXAMPLES = r"""
- name: Evaluate the backups of pg-cluster-v1
  ansible.builtin.set_fact:
    backup_health: >-
      {{ cluster_info.resources | first | default({})
         | mlops.mlflow.backup_health(name='pg-cluster-v1', object_store=object_store, max_age_hours=26) }}

- name: Fail when they need attention
  ansible.builtin.assert:
    that: backup_health.problems | length == 0
    fail_msg: "{{ backup_health.problems | join('; ') }}"
"""

RETURN = r"""
_value:
  description: The report and the problems.
  type: dict
  contains:
    report:
      description:
        - C(cluster), C(ready), C(continuous_archiving), C(first_recoverability_point), C(last_successful_backup),
          C(last_failed_backup) (timestamps as the ObjectStore reports them, or null), and C(last_backup_age_hours)
          (rounded to 0.01, or null without a successful backup).
      type: dict
    problems:
      description: One sentence per problem, in a fixed order; empty when the backups are healthy.
      type: list
      elements: str
"""

import datetime

from ansible.errors import AnsibleFilterError
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import parse_timestamp


def _seconds_between(later, earlier):
    """`later` minus `earlier` in seconds, as the seconds_between filter computes it."""
    return round((parse_timestamp(str(later)) - parse_timestamp(str(earlier))).total_seconds(), 3)


def _conditions(cluster):
    """type -> status of the Cluster's conditions (the last one of a type wins, as items2dict does)."""
    status = (cluster or {}).get("status") or {}
    return {condition.get("type"): condition.get("status") for condition in status.get("conditions") or []}


def _now(now):
    """The time of the check, to the second (the age is measured from a whole second, as before)."""
    instant = parse_timestamp(str(now)) if now else datetime.datetime.now(datetime.timezone.utc)
    return instant.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def backup_health(cluster, name, object_store=None, max_age_hours=26, now=None):
    try:
        limit = float(max_age_hours)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"backup_health: max_age_hours must be a number of hours, not {max_age_hours!r}") from None
    conditions = _conditions(cluster)
    windows = ((object_store or {}).get("status") or {}).get("serverRecoveryWindow") or {}
    window = windows.get(name) or {}
    last_success = window.get("lastSuccessfulBackupTime")
    last_failed = window.get("lastFailedBackupTime")
    try:
        age = round(_seconds_between(_now(now), last_success) / 3600, 2) if last_success else None
        failed_after_success = bool(last_failed and last_success and _seconds_between(last_failed, last_success) > 0)
    except ValueError as exc:
        raise AnsibleFilterError(f"backup_health: {exc}") from exc
    report = {
        "cluster": name,
        "ready": conditions.get("Ready", "Unknown") == "True",
        "continuous_archiving": conditions.get("ContinuousArchiving", "Unknown") == "True",
        "first_recoverability_point": window.get("firstRecoverabilityPoint"),
        "last_successful_backup": last_success,
        "last_failed_backup": last_failed,
        "last_backup_age_hours": age,
    }
    problems = []
    if not report["ready"]:
        problems.append("the cluster is not Ready")
    if not report["continuous_archiving"]:
        problems.append("WAL archiving is not working (ContinuousArchiving is not True)")
    if not report["first_recoverability_point"]:
        problems.append("no recoverability window: no completed base backup")
    if (age or 0) > limit:
        problems.append(f"the newest base backup is {age} h old (limit {max_age_hours} h)")
    if failed_after_success:
        problems.append(f"a backup failed at {last_failed}, after the last successful one")
    return {"report": report, "problems": problems}


class FilterModule:
    def filters(self):
        return {"backup_health": backup_health}
