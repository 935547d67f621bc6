# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations
from __future__ import annotations

DOCUMENTATION = r"""
name: access_rules
short_description: The RBAC rules the mlops.mlflow playbooks need, for a Role
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Returns the PolicyRules of a namespaced Role that allows exactly what the named playbooks do on the Kubernetes
    API. It is the same list the C(mlops.mlflow.access_check) preflight checks, so the two never disagree.
  - One rule per API group and set of verbs, sorted, so the Role is the same on every run (an idempotent apply).
options:
  _input:
    description: The playbooks (C(deploy), C(upgrade), C(recover), C(recovery_drill), C(backup_check), C(decommission)).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: A Role for the automation identity
  kubernetes.core.k8s:
    definition:
      apiVersion: rbac.authorization.k8s.io/v1
      kind: Role
      metadata:
        name: mlops-mlflow-automation
        namespace: mlflow
      rules: "{{ ['deploy', 'upgrade', 'backup_check'] | mlops.mlflow.access_rules }}"
"""

RETURN = r"""
_value:
  description: RBAC PolicyRules (C(apiGroups), C(resources), C(verbs)).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.mlflow.plugins.module_utils.access_needs import FLOWS, role_rules


def access_rules(flows):
    if isinstance(flows, str) or not all(isinstance(flow, str) for flow in flows or []):
        raise AnsibleFilterError("access_rules: expected a list of playbook names, got %r" % (flows,))
    unknown = [flow for flow in flows if flow not in FLOWS]
    if unknown:
        raise AnsibleFilterError("access_rules: unknown playbook(s) %s; known: %s"
                                 % (", ".join(unknown), ", ".join(FLOWS)))
    return role_rules(flows)


class FilterModule:
    def filters(self):
        return {"access_rules": access_rules}
