# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: cnpg_app_secret
short_description: The Secret a CloudNativePG Cluster keeps its application user's credentials in
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Returns the name of the Secret CloudNativePG uses for the application user of a Cluster, derived from its spec
    the way the operator derives it (C(Cluster.GetApplicationSecretName) in CloudNativePG's C(api/v1/cluster_funcs.go)).
  - The secret named by C(spec.bootstrap.recovery.secret), else C(spec.bootstrap.pg_basebackup.secret), else
    C(spec.bootstrap.initdb.secret), else C(<cluster name>-app).
  - A Secret the user provides (C(recovery.secretName) in the chart) is used as it is, with C(username) and
    C(password) only; only C(<cluster>-app), which the operator writes, also has C(uri), C(host), C(dbname) and the
    rest.
options:
  _input:
    description: The Cluster (a C(postgresql.cnpg.io/v1) object as C(kubernetes.core.k8s_info) returns it).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Read the cluster
  kubernetes.core.k8s_info:
    api_version: postgresql.cnpg.io/v1
    kind: Cluster
    name: pg-cluster-v2
    namespace: mlflow
  register: cluster

- name: Read its application user's credentials
  kubernetes.core.k8s_info:
    api_version: v1
    kind: Secret
    name: "{{ cluster.resources | first | mlops.mlflow.cnpg_app_secret }}"
    namespace: mlflow
  no_log: true
"""

RETURN = r"""
_value:
  description: The Secret's name.
  type: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# The bootstrap methods whose `secret` CloudNativePG uses as the application secret, in the operator's order.
_BOOTSTRAP_METHODS = ("recovery", "pg_basebackup", "initdb")
_SUFFIX = "-app"


def cnpg_app_secret(cluster):
    if not isinstance(cluster, Mapping) or not (cluster.get("metadata") or {}).get("name"):
        raise AnsibleFilterError("cnpg_app_secret: expected a CloudNativePG Cluster object with metadata.name, got %r"
                                 % type(cluster).__name__)
    bootstrap = (cluster.get("spec") or {}).get("bootstrap") or {}
    for method in _BOOTSTRAP_METHODS:
        name = ((bootstrap.get(method) or {}).get("secret") or {}).get("name")
        if name:
            return name
    return cluster["metadata"]["name"] + _SUFFIX


class FilterModule:
    def filters(self):
        return {"cnpg_app_secret": cnpg_app_secret}
