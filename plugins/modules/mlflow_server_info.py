#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mlflow_server_info
short_description: Check an MLflow tracking server as a user would, and count what it serves
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Calls C(/health) without credentials, then the authenticated C(/version) and the REST API of a running MLflow
    tracking server (basic-auth app), and returns its version and the number of experiments and runs it serves,
    with the newest run's start time.
  - The upgrade, recover and drill roles use it to verify that the server answers on the expected version and
    that no experiment history was lost.
  - Read-only; runs the same in check mode.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Only reads; it runs in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  url:
    description: Base URL of the server, for example the Route C(https://mlflow-mlflow.apps.example.com).
    type: str
    required: true
  username:
    description: A user with read access to every experiment (the admin).
    type: str
    required: true
  password:
    description: That user's password.
    type: str
    required: true
  validate_certs:
    description: Verify the server's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A CA bundle to verify the certificate with (a private CA).
    type: path
  timeout:
    description: Seconds to wait for each request.
    type: int
    default: 30
  count:
    description: Count experiments and runs (pages through the API); C(false) checks only health and version.
    type: bool
    default: true
  expected_version:
    description: Fail unless the authenticated C(/version) equals this (C(3.5.0) or C(v3.5.0)).
    type: str
"""

EXAMPLES = r"""
- name: Verify the upgraded server
  mlops.mlflow.mlflow_server_info:
    url: "https://{{ mlflow_route_host }}"
    username: admin
    password: "{{ mlflow_admin_password }}"
    expected_version: 3.5.0
  register: mlflow_after

- name: Nothing was lost
  ansible.builtin.assert:
    that: mlflow_after.runs == mlflow_before.runs
"""

RETURN = r"""
version:
  description: What the authenticated C(/version) answered.
  returned: success
  type: str
  sample: 3.5.0
experiments:
  description: Number of experiments (active and deleted).
  returned: success and count
  type: int
  sample: 12
runs:
  description: Number of runs over all experiments (active and deleted).
  returned: success and count
  type: int
  sample: 340
newest_run_start_time:
  description: Start time (UTC) of the newest run, or null when there is none.
  returned: success and count
  type: str
  sample: "2026-11-20T21:40:12.123000Z"
runs_per_experiment:
  description: Runs per experiment name.
  returned: success and count
  type: dict
  sample: {"Default": 0, "churn-model": 42}
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_server import run_server_info

ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True),
    username=dict(type="str", required=True),
    password=dict(type="str", required=True, no_log=True),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=30),
    count=dict(type="bool", default=True),
    expected_version=dict(type="str"),
)


def main():
    CollectionModule(ARGUMENT_SPEC, supports_check_mode=True).execute(run_server_info)


if __name__ == "__main__":
    main()
