# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_conflicts
short_description: What two installations of one playbook run would share by accident
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Takes each installation (inventory host) of a run with its variables (C(hostvars)) - C(mlflow_namespace),
    C(mlflow_release_name), C(mlflow_url), C(mlflow_values), C(mlflow_environment) and C(drill_namespace) - and
    names everything two or more of them share, one sentence each - the same release in the same namespace on the
    same cluster (the cluster as its C(K8S_AUTH_HOST), or kubeconfig and context), the same drill namespace there
    (a drill empties it), the same Route URL, the same backup archive (C(backup.s3.destinationPath) plus the
    cluster name, CNPG's server name), the same artifact destination.
  - The playbooks stop before any change when the list is not empty.
options:
  _input:
    description:
      - Each installation's variables by its inventory host name (C(mlflow_environment)'s C(K8S_AUTH_*) name the
        cluster).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: No two installations share a namespace, URL, backup archive or artifact store
  ansible.builtin.assert:
    that: __conflicts | length == 0
    fail_msg: "{{ __conflicts | join('; ') }}"
  vars:
    __conflicts: >-
      {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)))
         | mlops.mlflow.fleet_conflicts }}
"""

RETURN = r"""
_value:
  description: One sentence per shared thing, naming the installations; empty when they share nothing.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.mlflow.plugins.module_utils.fleet import FleetError, conflicts


def fleet_conflicts(installations):
    try:
        return conflicts(installations)
    except FleetError as exc:
        raise AnsibleFilterError("fleet_conflicts: %s" % exc) from exc


class FilterModule:
    def filters(self):
        return {"fleet_conflicts": fleet_conflicts}
