#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mlops.mlflow maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: basic_auth_rewrite
short_description: Point MLflow's basic-auth.ini at another auth database, safely
version_added: 0.1.0
description:
  - Changes the value of C(database_uri) in section C([mlflow]) of MLflow's basic-auth ini (the file named by
    C(MLFLOW_AUTH_CONFIG_PATH)), for example after a CloudNativePG recovery moved the auth database to a new cluster
    and gave it a new application password.
  - Works on a local file (O(path)) or on a key of a Kubernetes Secret (O(secret)), which is updated in place.
  - Only the parts given among O(uri_host), O(uri_port), O(uri_database), O(uri_username) and O(uri_password)
    change. The rest of the URI
    (scheme, driver, query string such as C(?sslmode=require)) and the rest of the file (comments, other keys and
    sections, key order, case, line endings) stay byte-for-byte.
  - The password is URL-encoded and every C(%) is doubled, because MLflow reads the file with configparser
    interpolation; an existing C(%%) in the file is read correctly. After the edit the module reads the result back
    the way MLflow does and refuses to write anything unless it yields exactly the intended URI and leaves every other
    value unchanged.
  - No password (the new one, the one in the current URI, or another one of the file) is ever returned, logged or
    shown in a diff.
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - mlops.mlflow.cluster.file_backup
attributes:
  check_mode:
    support: full
    details: Nothing is written. With O(secret), the patch is sent as a server-side dry run.
  diff_mode:
    support: full
    details: Shows the C(database_uri) line before and after, with the password masked.
  platform:
    platforms: posix
options:
  path:
    description:
      - The basic-auth ini file to change, on the target host.
      - Symbolic links are followed; the file they point to is replaced atomically.
      - Exactly one of O(path) and O(secret) is required.
    type: path
  secret:
    description:
      - The Kubernetes Secret that holds the ini. Its key is decoded, rewritten and, only when the content changes,
        updated in place with a merge patch that carries the Secret's C(resourceVersion) (a concurrent change makes
        the update fail instead of being overwritten). Nothing is written to disk.
      - Connection settings are the C(kubernetes.core) modules' own (O(kubeconfig), O(context), O(host), O(api_key),
        ... and their C(K8S_AUTH_*) environment variables, which AWX/AAP credentials set); they can be given once
        for every module of the collection with C(module_defaults) for C(group/mlops.mlflow.k8s).
      - Exactly one of O(path) and O(secret) is required.
    type: dict
    suboptions:
      name:
        description: Name of the Secret.
        type: str
        required: true
      namespace:
        description: Namespace of the Secret.
        type: str
        required: true
      key:
        description: Key of the Secret that holds the ini.
        type: str
        default: basic-auth.ini
  uri_host:
    description:
      - New database host, for example the C(-rw) service of the recovered cluster (C(pg-cluster-v2-rw)).
      - A hostname (RFC 1123), an IPv4 address or an IPv6 address (with or without brackets; it is written in
        brackets).
    type: str
  uri_port:
    description: New database port, from 1 to 65535.
    type: int
  uri_database:
    description: New database name.
    type: str
  uri_username:
    description: New database user. It is URL-encoded in the URI.
    type: str
  uri_password:
    description:
      - New database password, as the database knows it (not encoded). It is URL-encoded and C(%)-escaped in the
        file, so that MLflow reads back exactly this password.
      - Needs a username in the URI (or O(uri_username)). Refused when the URI's query string sets a password
        itself.
    type: str
notes:
  - MLflow reads C(database_uri) when the server starts; restart it (for example through a pod-template annotation
    set to RV(checksum)) after a change.
  - C(read_database_uri) (MLflow 3.17+) is not changed; a warning says when it is set.
  - Options O(mode), O(owner), O(group) and the other file attributes apply to O(path) only; the Kubernetes
    connection options apply to O(secret) only (with O(path) they are ignored, so that C(module_defaults) may set
    them for the whole group).
  - Before version 0.2.0 the URI options were called C(host), C(port), C(database), C(username) and C(password),
    and the connection settings were grouped under C(k8s_auth).
seealso:
  - name: MLflow authentication
    description: The basic-auth ini and its keys.
    link: https://mlflow.org/docs/latest/self-hosting/security/basic-http-auth/
"""

EXAMPLES = r"""
- name: Point the local basic-auth.ini at the recovered cluster with its new app password
  mlops.mlflow.basic_auth_rewrite:
    path: /etc/mlflow/basic-auth.ini
    uri_host: pg-cluster-v2-rw
    uri_port: 5432
    uri_password: "{{ new_app_password }}"
    backup: true
    mode: "0600"
  register: auth_ini

- name: Rewrite the ini inside the Secret the chart mounts, and record its checksum
  mlops.mlflow.basic_auth_rewrite:
    secret:
      name: mlflow-auth-config
      namespace: mlflow
      key: basic-auth.ini
    uri_host: pg-cluster-v2-rw
    uri_password: "{{ new_app_password }}"
  register: auth_secret

- name: Restart MLflow only when the ini changed
  kubernetes.core.k8s:
    state: patched
    api_version: apps/v1
    kind: Deployment
    name: mlflow
    namespace: mlflow
    definition:
      spec:
        template:
          metadata:
            annotations:
              mlflow.authConfigChecksum: "{{ auth_secret.checksum }}"

- name: Same, with explicit cluster credentials (otherwise K8S_AUTH_* variables or ~/.kube/config are used)
  mlops.mlflow.basic_auth_rewrite:
    secret:
      name: mlflow-auth-config
      namespace: mlflow
    host: https://api.cluster.example.com:6443
    api_key: "{{ openshift_token }}"
    ca_cert: /etc/pki/cluster-ca.pem
    uri_host: pg-cluster-v2-rw

- name: The connection settings once for every module of the collection (and kubernetes.core's)
  module_defaults:
    group/mlops.mlflow.k8s:
      kubeconfig: /etc/ansible/kubeconfig
      context: production
  block:
    - name: Point the ini at the recovered cluster
      mlops.mlflow.basic_auth_rewrite:
        secret:
          name: mlflow-auth-config
          namespace: mlflow
        uri_host: pg-cluster-v2-rw

- name: Only read the current settings and checksum (nothing given, nothing changes)
  mlops.mlflow.basic_auth_rewrite:
    path: /etc/mlflow/basic-auth.ini
  register: current_auth
"""

RETURN = r"""
changed:
  description: Whether the ini (or the file's attributes) changed, or would change in check mode.
  returned: always
  type: bool
before:
  description: The database the ini pointed at before the run. Never contains the password.
  returned: success
  type: dict
  contains:
    host:
      description: Host of the URI, without brackets; null when the URI has none.
      type: str
      sample: pg-cluster-v1-rw
    port:
      description: Port of the URI; null when the URI has none (the driver's default applies).
      type: int
      sample: 5432
    database:
      description: Database name.
      type: str
      sample: mlflow_auth
    username:
      description: Database user; null when the URI has none.
      type: str
      sample: app
  sample: {host: pg-cluster-v1-rw, port: 5432, database: mlflow_auth, username: app}
after:
  description: The database the ini points at after the run (would point at, in check mode). Same keys as RV(before).
  returned: success
  type: dict
  sample: {host: pg-cluster-v2-rw, port: 5432, database: mlflow_auth, username: app}
checksum:
  description:
    - SHA-256 of the resulting ini (hex). Equal to the checksum of the current content when nothing changes, so it can
      serve as a pod-template annotation that restarts MLflow only when the ini changes.
  returned: success
  type: str
  sample: 8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4
backup_file:
  description: Path of the copy written before the change (O(backup=true), O(path) mode).
  returned: when a backup was written
  type: str
  sample: /etc/mlflow/basic-auth.ini.2403.2026-11-20@10:21:44~
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.basic_auth_targets import run_rewrite
from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule

ARGUMENT_SPEC = dict(
    path=dict(type="path"),
    secret=dict(type="dict", no_log=False, options=dict(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        key=dict(type="str", default="basic-auth.ini", no_log=False),
    )),
    uri_host=dict(type="str"),
    uri_port=dict(type="int"),
    uri_database=dict(type="str"),
    uri_username=dict(type="str"),
    uri_password=dict(type="str", no_log=True),
    backup=dict(type="bool", default=False),
)


def main():
    module = CollectionModule(ARGUMENT_SPEC, cluster=True, add_file_common_args=True, supports_check_mode=True,
                              mutually_exclusive=[("path", "secret")], required_one_of=[("path", "secret")])
    module.execute(run_rewrite)


if __name__ == "__main__":
    main()
