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
  backup:
    description:
      - With O(path), keep a timestamped copy of the file (same folder, same permissions) before changing it.
      - Not available with O(secret).
    type: bool
    default: false
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
requirements:
  - kubernetes >= 24.2.0 (Python library), only with O(secret)
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

import copy
import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError, fail_with
from ansible_collections.mlops.mlflow.plugins.module_utils.basic_auth_ini import (
    IniError,
    KEY,
    SECTION,
    decode,
    rewrite_database_uri,
    secret_data_patch,
    sha256,
    text_from_secret_data,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.sqlalchemy_uri import format_host, validate_port

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (
    AUTH_ARG_SPEC,
    extract_sensitive_values_from_kubeconfig,
)

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

# The URI part each option sets.
URI_OPTIONS = {"uri_host": "host", "uri_port": "port", "uri_database": "database", "uri_username": "username",
               "uri_password": "password"}
PATH_ONLY_OPTIONS = ("backup", "mode", "owner", "group", "seuser", "serole", "setype", "selevel", "attributes")


class SecretError(CollectionError):
    """The Secret cannot be read or updated. Messages never contain its data."""


def argument_spec():
    secret = dict(
        name=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        key=dict(type="str", default="basic-auth.ini", no_log=False),
    )
    spec = dict(
        path=dict(type="path"),
        secret=dict(type="dict", options=secret, no_log=False),
        uri_host=dict(type="str"),
        uri_port=dict(type="int"),
        uri_database=dict(type="str"),
        uri_username=dict(type="str"),
        uri_password=dict(type="str", no_log=True),
        backup=dict(type="bool", default=False),
    )
    spec.update(copy.deepcopy(AUTH_ARG_SPEC))
    return spec


def uri_changes(params):
    """The URI parts to set, validated before anything is read."""
    changes = {part: params[option] for option, part in URI_OPTIONS.items() if params[option] is not None}
    if "host" in changes:
        format_host(changes["host"])
    if "port" in changes:
        validate_port(changes["port"])
    return changes


def content_diff(before, after, header):
    """The database_uri line before and after, passwords masked; a masked password cannot show that it changed, so
    a note says so."""
    line = "[%s]\n%s = %%s\n" % (SECTION, KEY)
    note = "# the database password changes (not shown)\n" if before.password != after.password else ""
    return dict(before=line % before.masked(), after=line % after.masked() + note,
                before_header=header, after_header=header)


def run_on_file(module, changes):
    params = module.params
    path = os.path.realpath(params["path"])
    if not os.path.exists(path):
        raise IniError("%s does not exist: give the path of MLflow's basic-auth ini (MLFLOW_AUTH_CONFIG_PATH)"
                       % params["path"])
    if not os.path.isfile(path):
        raise IniError("%s is not a regular file" % params["path"])
    try:
        with open(path, "rb") as handle:
            original = handle.read()
    except OSError as exc:
        raise IniError("cannot read %s: %s" % (params["path"], exc.strerror)) from None
    rewrite = rewrite_database_uri(decode(original, params["path"]), source=params["path"], **changes)
    module.no_log_values.update(rewrite.secrets())
    result = dict(before=rewrite.before.summary(), after=rewrite.after.summary(), checksum=sha256(rewrite.text))
    if rewrite.changed and not module.check_mode:
        if params["backup"]:
            try:
                result["backup_file"] = module.backup_local(path)
            except Exception as exc:  # backup_local raises a bare Exception that names both files
                raise IniError("%s; nothing was changed" % to_native(exc)) from None
        write_atomically(module, path, rewrite.text.encode("utf-8"))
    attributes_diff = {}
    file_args = module.load_file_common_arguments(params, path=path)
    result["changed"] = module.set_fs_attributes_if_different(file_args, rewrite.changed, diff=attributes_diff)
    if module._diff:
        diffs = [content_diff(rewrite.before, rewrite.after, params["path"])]
        if attributes_diff:
            diffs.append(attributes_diff)
        result["diff"] = diffs
    return rewrite, result


def write_atomically(module, path, data):
    """Write next to `path` (mode 0600 from the start) and rename over it; no copy of the secret is left behind."""
    folder, name = os.path.split(path)
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=folder)
    except OSError as exc:
        raise IniError("cannot write in %s: %s; nothing was changed" % (folder, exc.strerror)) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        module.atomic_move(temporary, path, unsafe_writes=module.params["unsafe_writes"])
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def api_error(exc, action, where):
    status = getattr(exc, "status", None)
    reason = getattr(exc, "summary", None)
    detail = reason() if callable(reason) else to_native(exc)
    return SecretError("cannot %s %s: %s%s" % (action, where, "HTTP %s: " % status if status else "", detail))


def run_on_secret(module, changes):
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes (Python library) and the kubernetes.core collection"),
                         exception=KUBERNETES_IMPORT_ERROR)
    spec = module.params["secret"]
    where = "Secret %s/%s" % (spec["namespace"], spec["name"])
    source = "%s key %s" % (where, spec["key"])
    if isinstance(module.params["kubeconfig"], dict):
        module.no_log_values.update(extract_sensitive_values_from_kubeconfig(module.params["kubeconfig"]))
    # The connection options as kubernetes.core's client takes them (unset ones fall back to K8S_AUTH_*).
    auth = {name: module.params[name] for name in AUTH_ARG_SPEC if module.params.get(name) is not None}
    try:
        client = get_api_client(**auth)
        resource = client.resource("Secret", "v1")
        secret = client.get(resource, name=spec["name"], namespace=spec["namespace"]).to_dict()
    except NotFoundError:
        raise SecretError("%s does not exist: check secret.name and secret.namespace" % where) from None
    except DynamicApiError as exc:
        raise api_error(exc, "read", where) from None
    except Exception as exc:  # the client raises many types for an unreachable or misconfigured cluster
        raise SecretError("cannot reach the Kubernetes API to read %s: %s" % (where, to_native(exc))) from None
    data = secret.get("data") or {}
    if spec["key"] in data:
        module.no_log_values.add(data[spec["key"]])
    text = text_from_secret_data(data, spec["key"], where)
    rewrite = rewrite_database_uri(text, source=source, **changes)
    module.no_log_values.update(rewrite.secrets())
    if rewrite.changed:
        if secret.get("immutable"):
            raise SecretError("%s is immutable and cannot be updated in place: recreate it with the new content "
                              "(or make it mutable)" % where)
        patch = secret_data_patch(rewrite.text, spec["key"], secret["metadata"]["resourceVersion"])
        module.no_log_values.add(patch["data"][spec["key"]])
        params = dict(name=spec["name"], namespace=spec["namespace"], content_type="application/merge-patch+json")
        if module.check_mode:
            params["dry_run"] = "All"
        try:
            client.patch(resource, patch, **params)
        except DynamicApiError as exc:
            if getattr(exc, "status", None) == 409:
                raise SecretError("%s changed while it was being rewritten; nothing was written: run again"
                                  % where) from None
            raise api_error(exc, "update", where) from None
        except Exception as exc:  # connection errors of the client
            raise SecretError("cannot reach the Kubernetes API to update %s: %s" % (where, to_native(exc))) from None
    result = dict(changed=rewrite.changed, before=rewrite.before.summary(), after=rewrite.after.summary(),
                  checksum=sha256(rewrite.text))
    if module._diff:
        result["diff"] = content_diff(rewrite.before, rewrite.after, source)
    return rewrite, result


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        add_file_common_args=True,
        mutually_exclusive=[("path", "secret")],
        required_one_of=[("path", "secret")],
        supports_check_mode=True,
    )
    if module.params["secret"]:
        misplaced = [name for name in PATH_ONLY_OPTIONS if module.params.get(name)]
        if misplaced:
            module.fail_json(msg="%s only apply to path, not to secret: remove them" % ", ".join(misplaced))
    try:
        changes = uri_changes(module.params)
        runner = run_on_secret if module.params["secret"] else run_on_file
        rewrite, result = runner(module, changes)
    except CollectionError as exc:
        fail_with(module, exc)
    for warning in rewrite.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
