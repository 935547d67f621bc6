# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mlflow_upgrade_notes
short_description: What a person should know before upgrading MLflow from one version to another
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Returns warnings for an upgrade from the input version to O(target) - client compatibility across major
    versions, the 3.16 admin password change, and a target older than the running version.
options:
  _input:
    description: The running version.
    type: str
    required: true
  target:
    description: The version to upgrade to.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Warn before upgrading
  ansible.builtin.debug:
    msg: "{{ '2.22.5' | mlops.mlflow.mlflow_upgrade_notes('3.17.2') }}"
"""

RETURN = r"""
_value:
  description: The warnings, empty when there are none.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_version import VersionError, upgrade_notes


def mlflow_upgrade_notes(current, target):
    try:
        return upgrade_notes(current, target)
    except VersionError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"mlflow_upgrade_notes": mlflow_upgrade_notes}
