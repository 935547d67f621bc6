#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: secret_copy
short_description: Copy named Secrets from one namespace into another, without their data passing through Ansible
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Reads each Secret of O(names) in O(source_namespace) and creates the same C(type) and C(data) in O(namespace),
    with O(labels); a copy that exists is patched to the source's data (keys the source no longer has are removed) and
    labels, and left alone when it already matches (V(changed) false).
  - The data never leaves the module - the result names Secrets only - so no C(k8s_info) result or fact holds it; the
    values are also masked in anything the module returns or logs.
  - Every source is read before anything is written; with O(fail_on_missing), a missing one fails the task with its
    name and nothing is copied.
  - A copy whose C(type) differs from the source's is refused (a Secret's type cannot change).
  - One call, where a read per Secret, a fact and an apply were a module process each.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads every Secret and sends each write as a server-side dry run; reports what would be copied.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  names:
    description: The Secrets to copy (each once, in this order).
    type: list
    elements: str
    required: true
  source_namespace:
    description: Where they are.
    type: str
    required: true
  namespace:
    description: Where the copies go (not O(source_namespace)).
    type: str
    required: true
  labels:
    description: Labels of the copies (for example, to find and delete them later).
    type: dict
    default: {}
  fail_on_missing:
    description: Fail, copying nothing, when a Secret of O(names) does not exist; false skips it (RV(missing)).
    type: bool
    default: false
notes:
  - Needs C(get) on Secrets in O(source_namespace), and C(get), C(create) and C(patch) on Secrets in O(namespace).
"""

EXAMPLES = r"""
- name: Copy production's S3 credentials and MLflow's configuration into a drill namespace
  mlops.mlflow.secret_copy:
    names: [s3-credentials, mlflow-auth-config, mlflow-flask-secret]
    source_namespace: mlflow
    namespace: mlflow-drill-20261204
    labels:
      mlops.mlflow/drill: "20261204t073000"
  register: copies
"""

RETURN = r"""
copied:
  description: The Secrets created or patched in O(namespace).
  returned: always
  type: list
  elements: str
  sample: [s3-credentials, mlflow-auth-config]
unchanged:
  description: The copies that already matched their source.
  returned: always
  type: list
  elements: str
  sample: [mlflow-flask-secret]
missing:
  description: The Secrets of O(names) that O(source_namespace) does not hold (not copied).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.secret_copy import copy_secrets

ARGUMENT_SPEC = dict(
    names=dict(type="list", elements="str", required=True),
    source_namespace=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    labels=dict(type="dict", default={}),
    fail_on_missing=dict(type="bool", default=False),
)


def main():
    CollectionModule(ARGUMENT_SPEC, cluster=True, supports_check_mode=True).execute(copy_secrets)


if __name__ == "__main__":
    main()
