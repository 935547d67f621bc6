#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: access_check
short_description: Check, before any change, that the identity may do everything a playbook will do
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Asks the API server whether the identity running the play may do each thing the named O(flows) do, in each of
    O(namespaces). One SelfSubjectRulesReview per namespace (C(kubectl auth can-i --list)) shows the rules it holds;
    every permission those rules do not grant is asked with its own SelfSubjectAccessReview (C(kubectl auth can-i)),
    whose answer decides.
  - The permissions of each flow are the collection's one list (the same list C(playbooks/rbac.yml) grants
    from), so a Role made by C(rbac.yml) always passes and a hand-made Role is told exactly what it lacks.
  - When anything is missing, the task fails naming every missing C(verb resource.group) with its namespace and
    why the flow needs it, and how to grant it. It never changes anything.
  - A permission in an OpenShift API group (C(*.openshift.io)) that the cluster does not serve is not required, as
    the flows use routes, builds, image streams, templates and projects only where they are served (discovery,
    read once). RV(skipped_unserved) says which groups were skipped.
  - With O(prerequisites), first checks in the same call what M(mlops.mlflow.cluster_prerequisites) checks (the
    Kubernetes version, CloudNativePG, the Barman Cloud Plugin, cert-manager), and fails as it does, before any
    permission is asked; its RV(kubernetes_version) and RV(apis) are returned too. One module process instead of two
    in every playbook's preflight.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The same reviews are asked; a review is an answer the API server does not store.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  prerequisites:
    description: Check the cluster's prerequisites first (M(mlops.mlflow.cluster_prerequisites)).
    type: bool
    default: false
  namespaces:
    description: The namespaces the flows work in (the MLflow namespace; for a drill, the drill namespace too).
    type: list
    elements: str
    required: true
  flows:
    description: The playbooks whose permissions to check.
    type: list
    elements: str
    choices: [deploy, upgrade, recover, recovery_drill, backup_check, decommission]
    default: []
  rules:
    description: More permissions to check, beyond those of O(flows).
    type: list
    elements: dict
    default: []
    suboptions:
      group:
        description: API group (empty for the core group).
        type: str
        default: ""
      resource:
        description: Resource, optionally with a subresource (C(pods/exec)).
        type: str
        required: true
      verbs:
        description: Verbs to check.
        type: list
        elements: str
        required: true
      why:
        description: What the permission is for (said when it is missing).
        type: str
      cluster_scoped:
        description: Check it once at the cluster scope (creating a Namespace), not in each of O(namespaces).
        type: bool
        default: false
  grant_hint:
    description: How to grant what is missing, appended to the failure message.
    type: str
    default: >-
      ansible-playbook playbooks/rbac.yml -i <inventory> (docs/rbac.md), or a Role with the rules listed there
seealso:
  - name: Authorization overview (SelfSubjectAccessReview)
    description: How the API server answers C(kubectl auth can-i).
    link: https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
"""

EXAMPLES = r"""
- name: Check that the identity may upgrade MLflow in its namespace
  mlops.mlflow.access_check:
    namespaces: [mlflow]
    flows: [upgrade]

- name: A drill works in production's namespace and its own
  mlops.mlflow.access_check:
    namespaces: [mlflow, mlflow-drill]
    flows: [recovery_drill]
    rules:
      - resource: namespaces
        verbs: [create, delete]
        why: the drill makes its own namespace
        cluster_scoped: true
"""

RETURN = r"""
kubernetes_version:
  description: The API server's Kubernetes version, major.minor (with O(prerequisites)).
  returned: when O(prerequisites)
  type: str
  sample: "1.33"
apis:
  description: The group-versions the cluster serves of those the collection needs or uses (with O(prerequisites)).
  returned: when O(prerequisites)
  type: list
  elements: str
  sample: [barmancloud.cnpg.io/v1, cert-manager.io/v1, postgresql.cnpg.io/v1]
checked:
  description: How many permissions were checked (each verb, resource and namespace once).
  returned: always
  type: int
  sample: 184
access_reviews:
  description: How many of them the rules review did not show and were asked one by one.
  returned: always
  type: int
  sample: 0
skipped_unserved:
  description: The OpenShift API groups the cluster does not serve, with how many of their permissions were not
    checked (the flows do not use them there); empty on OpenShift.
  returned: always
  type: list
  elements: dict
  sample: [{"group": "route.openshift.io", "permissions": 5}]
missing:
  description: The permissions the identity lacks (empty on success; on failure the task fails with them).
  returned: always
  type: list
  elements: dict
  sample: [{"namespace": "mlflow", "verb": "create", "group": "", "resource": "pods/exec",
            "permission": "create pods/exec", "why": "pg_switch_wal() in the primary"}]
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.access_review import run_access_check
from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule

RULE_SPEC = dict(
    group=dict(type="str", default=""),
    resource=dict(type="str", required=True),
    verbs=dict(type="list", elements="str", required=True),
    why=dict(type="str"),
    cluster_scoped=dict(type="bool", default=False),
)

ARGUMENT_SPEC = dict(
    prerequisites=dict(type="bool", default=False),
    namespaces=dict(type="list", elements="str", required=True),
    flows=dict(type="list", elements="str", default=[],
               choices=["deploy", "upgrade", "recover", "recovery_drill", "backup_check", "decommission"]),
    rules=dict(type="list", elements="dict", options=RULE_SPEC, default=[]),
    grant_hint=dict(type="str", default="ansible-playbook playbooks/rbac.yml -i <inventory> (docs/rbac.md), or a "
                                        "Role with the rules listed there"),
)


def main():
    CollectionModule(ARGUMENT_SPEC, cluster=True, supports_check_mode=True).execute(run_access_check)


if __name__ == "__main__":
    main()
