# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_summary
short_description: One flow's outcome on every installation of a run, as a table and as JSON
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Takes each installation's outcome (inventory host name to the C(common_fleet_outcome) fact the playbooks
    set, or null for an installation that was not started) and returns the fleet summary - a row per
    installation in the input's order, the counts of each result, the failed installations and the lines of a
    readable table.
  - Columns by flow - C(upgrade) from, to, path, downtime_seconds; C(deploy) version;
    C(recovery_drill) rto_seconds, rpo_seconds, report_file; C(backup_check) last_backup_age_hours,
    continuous_archiving, first_recoverability_point.
options:
  _input:
    description: Each installation's outcome by inventory host name (C(result) is succeeded, failed or not started).
    type: dict
    required: true
  flow:
    description: The playbook's flow.
    type: str
    required: true
    choices: [upgrade, deploy, recovery_drill, backup_check]
  finished:
    description: When the run finished (kept in the summary).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The summary of a fleet upgrade
  ansible.builtin.debug:
    msg: >-
      {{ {'team-a': {'result': 'succeeded', 'from': '3.4.0', 'to': '3.5.0', 'downtime_seconds': 14.2},
          'team-b': {'result': 'failed', 'message': 'The migration failed'}, 'prod': none}
         | mlops.mlflow.fleet_summary('upgrade') }}
"""

RETURN = r"""
_value:
  description: The summary.
  type: dict
  contains:
    flow:
      description: The flow.
      type: str
    installations:
      description: How many installations the run targeted.
      type: int
    counts:
      description: How many succeeded, failed and were not started.
      type: dict
    rows:
      description: Per installation - installation, namespace, result, message and the flow's columns.
      type: list
      elements: dict
    failed:
      description: The installations that failed.
      type: list
      elements: str
    lines:
      description: The table and a line per installation that did not succeed, for a person.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.mlflow.plugins.module_utils.fleet import FleetError, summary


def fleet_summary(outcomes, flow, finished=""):
    try:
        return summary(flow, outcomes, finished=finished)
    except FleetError as exc:
        raise AnsibleFilterError("fleet_summary: %s" % exc) from exc


class FilterModule:
    def filters(self):
        return {"fleet_summary": fleet_summary}
