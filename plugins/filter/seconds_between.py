# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: seconds_between
short_description: Seconds from one timestamp to another (RFC 3339, any zone)
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Returns O(_input) minus O(earlier) in seconds (negative when O(_input) is the earlier one). Both are RFC 3339 /
    ISO 8601 timestamps with C(Z), an offset, or no zone (read as UTC), with or without fractional seconds.
  - The drill uses it for RPO (target time minus the newest restored commit) and RTO.
options:
  _input:
    description: The later timestamp.
    type: str
    required: true
  earlier:
    description: The earlier timestamp.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: RPO of a drill
  ansible.builtin.debug:
    msg: "{{ '2026-11-20T23:45:00+02:00' | mlops.mlflow.seconds_between('2026-11-20T21:40:12.5Z') }}"
"""

RETURN = r"""
_value:
  description: The difference in seconds.
  type: float
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import parse_timestamp


def seconds_between(later, earlier):
    try:
        return round((parse_timestamp(str(later)) - parse_timestamp(str(earlier))).total_seconds(), 3)
    except ValueError as exc:
        raise AnsibleFilterError(f"seconds_between: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"seconds_between": seconds_between}
