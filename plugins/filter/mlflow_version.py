# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mlflow_version
short_description: Normalise an MLflow version (3.5.0 or v3.5.0) and refuse anything else
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Returns C(X.Y.Z) for C(X.Y.Z) or C(vX.Y.Z); fails with a message that shows the expected form otherwise.
  - The official images are tagged C(vX.Y.Z); the chart adds the C(v) itself.
options:
  _input:
    description: The version as the user typed it.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Accept -e mlflow_tag=v3.5.0 as well as 3.5.0
  ansible.builtin.set_fact:
    upgrade_target_version: "{{ mlflow_tag | mlops.mlflow.mlflow_version }}"
"""

RETURN = r"""
_value:
  description: The version without the C(v) prefix.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_version import VersionError, normalise_version


def mlflow_version(text):
    try:
        return normalise_version(text)
    except VersionError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"mlflow_version": mlflow_version}
