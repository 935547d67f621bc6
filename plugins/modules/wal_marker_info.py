#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wal_marker_info
short_description: Find the marker M(mlops.mlflow.wal_switch) wrote in a CNPG cluster, such as a restored copy
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Reads the marker row M(mlops.mlflow.wal_switch) writes before its WAL switch, in the table O(marker_table) of the
    C(postgres) database of the C(Cluster)'s running primary (psql as the superuser over pods/exec, as
    C(kubectl cnpg psql) does).
  - In a copy restored from the backups, the row proves that the restore replayed WAL up to that switch - what a
    recovery drill reports as its proof of replay.
  - A copy without the table, or without the row, is an answer (O(ignore:found) false with the reason), not an error;
    so is a cluster whose primary does not run.
  - One call, without the import of the whole generated Kubernetes client that a C(kubernetes.core.k8s_exec) task
    costs (about 1.5 s).
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Only reads; runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  cluster:
    description: The CNPG C(Cluster) to look in.
    type: str
    required: true
  namespace:
    description: Its namespace.
    type: str
    required: true
  marker:
    description: The marker M(mlops.mlflow.wal_switch) wrote (letters, digits and C(_)).
    type: str
    required: true
  marker_table:
    description: The marker table in the C(postgres) database.
    type: str
    default: mlops_mlflow_wal_marker
notes:
  - Needs C(get) on the C(Cluster) and C(get) and C(create) on C(pods/exec) (Kubernetes' C(edit) and C(admin) roles
    have them, C(view) not).
seealso:
  - module: mlops.mlflow.wal_switch
"""

EXAMPLES = r"""
- name: Look for the marker written into production before the drill, in the restored copy
  mlops.mlflow.wal_marker_info:
    cluster: pg-cluster-v1-drill
    namespace: mlflow-drill-20261204
    marker: "{{ wal.marker }}"
  register: restored_marker

- name: Say whether the copy replayed WAL that far
  ansible.builtin.debug:
    msg: "{{ 'marker written at ' ~ restored_marker.written_at if restored_marker.found else restored_marker.reason }}"
"""

RETURN = r"""
found:
  description: Whether the primary holds the marker row.
  returned: always
  type: bool
  sample: true
written_at:
  description: When the row was written (UTC, ISO 8601; empty when not found).
  returned: always
  type: str
  sample: "2026-12-04T07:31:02.123456Z"
primary:
  description: The running primary's pod (empty when the primary does not run).
  returned: always
  type: str
  sample: pg-cluster-v1-drill-1
reason:
  description: Why the marker was not found (empty when O(ignore:found) is true).
  returned: always
  type: str
  sample: "no table mlops_mlflow_wal_marker: the copy holds no marker at all"
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.wal_switch import find_marker

ARGUMENT_SPEC = dict(
    cluster=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    marker=dict(type="str", required=True),
    marker_table=dict(type="str", default="mlops_mlflow_wal_marker"),
)


def main():
    CollectionModule(ARGUMENT_SPEC, cluster=True, supports_check_mode=True).execute(find_marker)


if __name__ == "__main__":
    main()
