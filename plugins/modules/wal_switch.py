#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wal_switch
short_description: Close a CNPG cluster's current WAL segment and wait until it is archived
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - When the CNPG C(Cluster) is C(Ready) and not hibernated, runs C(SELECT pg_switch_wal()) as the superuser in its
    primary's C(postgres) container (pods/exec, as C(kubectl cnpg psql) does) and waits until PostgreSQL's archiver
    has taken that segment, so the newest writes are recoverable without waiting for C(archive_timeout) (5 minutes in
    CloudNativePG).
  - With O(marker), first inserts that marker into the table O(marker_table) of the C(postgres) database (outside
    MLflow's schema), so that a restored copy holding the row proves it replayed WAL up to the switch.
  - Archiving that fails does not hold the caller - the wait stops once the archiver has failed three more times
    since the switch (PostgreSQL tries a segment three times in a row), or after O(archive_timeout) - and the result
    says so (O(ignore:switched) false with the reason), so the caller can state what a recovery can reach.
  - A cluster whose primary does not run (hibernated, not Ready, deleted) is not an error either - nothing can be
    switched; the result says why.
  - One call does the read, the switch and the wait; the archiver is read four times a second.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the cluster and reports whether its primary runs; writes no marker and switches nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  cluster:
    description: The CNPG C(Cluster).
    type: str
    required: true
  namespace:
    description: Its namespace.
    type: str
    required: true
  marker:
    description: A marker to write before the switch (letters, digits and C(_)); empty writes none.
    type: str
    default: ""
  marker_table:
    description: The marker table in the C(postgres) database.
    type: str
    default: mlops_mlflow_wal_marker
  archive_timeout:
    description: Seconds to wait for the archiver to take the switched segment.
    type: int
    default: 60
notes:
  - Needs C(get) on the C(Cluster) and C(get) and C(create) on C(pods/exec) (Kubernetes' C(edit) and C(admin) roles
    have them, C(view) not).
"""

EXAMPLES = r"""
- name: Archive the newest writes before planning a recovery
  mlops.mlflow.wal_switch:
    cluster: pg-cluster-v1
    namespace: mlflow
  register: wal

- name: Say what a recovery can reach
  ansible.builtin.debug:
    msg: "{{ 'WAL segment ' ~ wal.segment ~ ' archived' if wal.switched else 'No WAL switch: ' ~ wal.reason }}"
"""

RETURN = r"""
switched:
  description: Whether a segment was switched and archived.
  returned: always
  type: bool
  sample: true
segment:
  description: The WAL segment the switch closed (empty when none was switched).
  returned: always
  type: str
  sample: "000000010000000000000007"
marker:
  description: The marker written before the switch (empty when none was).
  returned: always
  type: str
  sample: drill20261203t101500
primary:
  description: The running primary's pod (empty when the primary does not run).
  returned: always
  type: str
  sample: pg-cluster-v1-1
reason:
  description: Why nothing was switched or archived (empty when O(ignore:switched) is true).
  returned: always
  type: str
  sample: the primary of pg-cluster-v1 is not running
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.wal_switch import switch

ARGUMENT_SPEC = dict(
    cluster=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    marker=dict(type="str", default=""),
    marker_table=dict(type="str", default="mlops_mlflow_wal_marker"),
    archive_timeout=dict(type="int", default=60),
)


def main():
    CollectionModule(ARGUMENT_SPEC, cluster=True, supports_check_mode=True).execute(switch)


if __name__ == "__main__":
    main()
