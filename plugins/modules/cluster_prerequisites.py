#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_prerequisites
short_description: Check the cluster has what the MLflow chart and playbooks rely on, before any change
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Reads the API server's version, its API discovery and CloudNativePG's OpenAPI schema - what any authenticated
    identity may read, so a namespace-scoped automation account can run it - and fails, naming each missing piece,
    when the cluster lacks what the collection needs.
  - Kubernetes 1.29 or later (the Barman Cloud Plugin runs as a native sidecar).
  - CloudNativePG 1.26 or later (its C(postgresql.cnpg.io/v1) Cluster, Backup, ScheduledBackup and Database, and
    C(spec.plugins[].isWALArchiver), added in 1.26).
  - The Barman Cloud Plugin (C(barmancloud.cnpg.io/v1) ObjectStore).
  - cert-manager (C(cert-manager.io/v1) Certificate and Issuer), which the Barman Cloud Plugin's manifest uses to
    issue and renew the TLS certificates between the CloudNativePG operator and the plugin.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
  platform:
    platforms: posix
options: {}
"""

EXAMPLES = r"""
- name: Check the cluster before deploying
  mlops.mlflow.cluster_prerequisites:
  register: prerequisites
"""

RETURN = r"""
kubernetes_version:
  description: The API server's Kubernetes version, major.minor.
  returned: always
  type: str
  sample: "1.33"
apis:
  description:
    - The group-versions the cluster serves, of those required and of those the chart uses where they are served
      (build.openshift.io/v1, image.openshift.io/v1, route.openshift.io/v1).
  returned: always
  type: list
  elements: str
  sample: [barmancloud.cnpg.io/v1, cert-manager.io/v1, postgresql.cnpg.io/v1]
problems:
  description: What is missing (empty on success; on failure the task fails with them).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.cluster_prerequisites import run_prerequisites
from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule


def main():
    CollectionModule({}, cluster=True, supports_check_mode=True).execute(run_prerequisites)


if __name__ == "__main__":
    main()
