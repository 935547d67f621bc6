# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: drill_access_rules
short_description: What a recovery drill needs beyond its playbook's rules, for its way of getting a namespace
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Returns rules in the form C(mlops.mlflow.access_check) takes, from the collection's one list of what the
    playbooks do (the list C(rbac.yml) grants from).
  - C(provided), C(project_request) and C(namespace) give the cluster-scoped rules of that way of getting the drill
    namespace; C(in_project) gives what the drill needs in the project a ProjectRequest made for it.
options:
  _input:
    description: C(provided), C(project_request), C(namespace) or C(in_project).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check what a drill into a requested project needs
  mlops.mlflow.access_check:
    namespaces: [mlflow]
    flows: [recovery_drill]
    rules: "{{ 'project_request' | mlops.mlflow.drill_access_rules }}"
"""

RETURN = r"""
_value:
  description: Rules (C(group), C(resource), C(verbs), C(why), C(cluster_scoped) for the namespace modes).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.mlflow.plugins.module_utils.access_needs import drill_namespace_rules, drill_project_rules


def drill_access_rules(mode):
    if mode == "in_project":
        return drill_project_rules()
    try:
        return drill_namespace_rules(mode)
    except ValueError as exc:
        raise AnsibleFilterError("drill_access_rules: %s (or in_project)" % exc) from exc


class FilterModule:
    def filters(self):
        return {"drill_access_rules": drill_access_rules}
