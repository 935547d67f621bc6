# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: basic_auth_database
short_description: Point the database_uri of a basic-auth.ini text at another host (and password)
version_added: 0.1.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - The in-memory form of M(mlops.mlflow.basic_auth_rewrite) - returns the ini text with only the value of
    C([mlflow] database_uri) changed (byte-for-byte elsewhere, C(%) escaped for configparser), so a role can put
    the result straight into a Secret without a file.
  - The password is only set when the URI already carries a user name (otherwise the pods connect with the
    cluster's C(PGUSER)/C(PGPASSWORD)).
  - The deploy role uses it to keep C(basic-auth.ini) pointing at the cluster the release really runs after a
    recovery, whatever the inventory's file still says.
options:
  _input:
    description: The ini's text.
    type: str
    required: true
  host:
    description: The new host (for example C(pg-cluster-v2-rw)); omitted keeps it.
    type: str
  password:
    description: The new password (used only when the URI has a user name); omitted keeps it.
    type: str
"""

EXAMPLES = r"""
- name: The ini as it must be for the live cluster
  ansible.builtin.set_fact:
    deploy_ini: "{{ lookup('ansible.builtin.file', 'basic-auth.ini', rstrip=false) | mlops.mlflow.basic_auth_database(host='pg-cluster-v2-rw') }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The rewritten ini text.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.mlops.mlflow.plugins.module_utils.basic_auth_ini import IniError, rewrite_database_uri
from ansible_collections.mlops.mlflow.plugins.module_utils.sqlalchemy_uri import UriError


def basic_auth_database(text, host=None, password=None):
    try:
        probe = rewrite_database_uri(text)
        with_password = password if (password and probe.before.username) else None
        return rewrite_database_uri(text, host=host or None, password=with_password).text
    except (IniError, UriError) as exc:
        raise AnsibleFilterError(f"basic-auth.ini: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"basic_auth_database": basic_auth_database}
