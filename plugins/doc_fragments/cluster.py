# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module that talks to the Kubernetes API shares (plugins/module_utils/collection_module.py)."""

from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    DOCUMENTATION = r"""
options: {}
requirements:
  - kubernetes >= 24.2.0 (Python library), for the tasks that reach the cluster
notes:
  - The connection options are kubernetes.core's (O(kubeconfig), O(context), O(host), O(api_key), ...; unset ones
    fall back to the E(K8S_AUTH_*) variables that AWX's OpenShift or Kubernetes credential sets), and the module is
    in this collection's C(k8s) action group, so C(module_defaults) for C(group/mlops.mlflow.k8s) reach it.
  - In check mode every write to the cluster is sent as a server-side dry run (C(dryRun=All)); the API server
    validates and admits it, and nothing is stored. C(changed) is then what a real run would report.
"""

    FILE_BACKUP = r"""
options:
  backup:
    description:
      - Keep a timestamped copy of the file next to it before rewriting it; RV(backup_file) is its path.
      - The rewrite itself is atomic (a new file renamed over the old one), so a reader sees either version.
    type: bool
    default: false
"""
