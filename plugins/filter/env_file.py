# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: env_file
short_description: Parse an env file (such as aws.env) strictly into a dictionary
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Parses C(KEY=VALUE) lines the way C(oc create secret generic --from-env-file) does (blank lines and C(#)
    comments skipped, values taken verbatim), and fails with the line number, never the value, on a malformed
    line, a duplicate key or a missing required key.
options:
  _input:
    description: The file's text.
    type: str
    required: true
  required:
    description: Keys that must be present and non-empty.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Read aws.env for the s3-credentials Secret
  ansible.builtin.set_fact:
    deploy_s3_env: "{{ lookup('ansible.builtin.file', 'aws.env') | mlops.mlflow.env_file(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The keys and values.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.mlops.mlflow.plugins.module_utils.env_file import EnvFileError, parse_env_file


def env_file(text, required=None):
    try:
        return parse_env_file(text, required or ())
    except EnvFileError as exc:
        raise AnsibleFilterError(f"env file: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"env_file": env_file}
