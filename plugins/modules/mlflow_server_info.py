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

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_api import MlflowApiError, read_server

try:
    from urllib.error import HTTPError, URLError
except ImportError:  # pragma: no cover - Python 3 always has it
    pass


class Server:
    """HTTP calls to one MLflow server with basic auth."""

    def __init__(self, params):
        self.base = params["url"].rstrip("/")
        self.options = dict(url_username=params["username"], url_password=params["password"],
                            force_basic_auth=True, validate_certs=params["validate_certs"],
                            ca_path=params["ca_path"], timeout=params["timeout"])

    def get(self, path, authenticated=True):
        anonymous = {k: v for k, v in self.options.items() if k not in ("url_username", "url_password", "force_basic_auth")}
        options = self.options if authenticated else anonymous
        try:
            return open_url(self.base + path, method="GET", **options).read().decode("utf-8")
        except HTTPError as exc:
            raise MlflowApiError(path, exc.code, exc.read().decode("utf-8", "replace")) from exc

    def post(self, endpoint, body):
        path = f"/api/2.0/mlflow/{endpoint}"
        try:
            response = open_url(self.base + path, method="POST", data=json.dumps(body),
                                headers={"Content-Type": "application/json"}, **self.options)
        except HTTPError as exc:
            raise MlflowApiError(path, exc.code, exc.read().decode("utf-8", "replace")) from exc
        return json.loads(response.read().decode("utf-8"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            username=dict(type="str", required=True),
            password=dict(type="str", required=True, no_log=True),
            validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            timeout=dict(type="int", default=30),
            count=dict(type="bool", default=True),
            expected_version=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    server = Server(module.params)
    url = module.params["url"]
    try:
        health = server.get("/health", authenticated=False).strip()
        version = server.get("/version").strip()
        result = read_server(server.post, version) if module.params["count"] else {"version": version}
    except MlflowApiError as exc:
        hint = " Check the admin username and password." if exc.status in (401, 403) else ""
        module.fail_json(msg=f"MLflow at {url} answered {exc.endpoint} with HTTP {exc.status}.{hint}", status=exc.status)
    except (URLError, OSError, ValueError) as exc:
        module.fail_json(msg=f"MLflow at {url} could not be reached: {exc}. Check the URL and that the server is running.")
    expected = module.params["expected_version"]
    if expected and version != expected.lstrip("v"):
        module.fail_json(msg=f"MLflow at {url} runs version {version}, expected {expected.lstrip('v')}.", **result)
    module.exit_json(changed=False, health=health, **result)


if __name__ == "__main__":
    main()
