# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The basic_auth_rewrite module's work: rewrite `database_uri` of MLflow's basic-auth ini where it lives, a file
on the managed node or a key of a Kubernetes Secret. The ini logic itself is `basic_auth_ini.py`.

Every value that may hold a password (the Secret's data, the old and new URIs) is hidden before anything can be
returned. A Secret is updated with a merge patch conditional on the resourceVersion read, so a concurrent change
makes this run stop instead of overwriting it.
"""

from __future__ import annotations

import os

from ansible_collections.mlops.mlflow.plugins.module_utils.atomic_file import replace_file
from ansible_collections.mlops.mlflow.plugins.module_utils.basic_auth_ini import (
    KEY, SECTION, IniError, decode, rewrite_database_uri, secret_data_patch, sha256, text_from_secret_data)
from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import api_error_message
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.sqlalchemy_uri import format_host, validate_port

try:
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError
except ImportError:  # the module's client reports the missing library first
    pass

# The URI part each option sets.
URI_OPTIONS = {"uri_host": "host", "uri_port": "port", "uri_database": "database", "uri_username": "username",
               "uri_password": "password"}
PATH_ONLY_OPTIONS = ("backup", "mode", "owner", "group", "seuser", "serole", "setype", "selevel", "attributes")


class SecretError(CollectionError):
    """The Secret cannot be read or updated. Messages never contain its data."""


def uri_changes(params: dict) -> dict:
    """The URI parts to set, validated before anything is read."""
    changes = {part: params[option] for option, part in URI_OPTIONS.items() if params[option] is not None}
    if "host" in changes:
        format_host(changes["host"])
    if "port" in changes:
        validate_port(changes["port"])
    return changes


def content_diff(before, after, header: str) -> dict:
    """The database_uri line before and after, passwords masked; a masked password cannot show that it changed, so
    a note says so."""
    line = "[%s]\n%s = %%s\n" % (SECTION, KEY)
    note = "# the database password changes (not shown)\n" if before.password != after.password else ""
    return dict(before=line % before.masked(), after=line % after.masked() + note,
                before_header=header, after_header=header)


def outcome(module, rewrite, source: str) -> dict:
    result = dict(changed=rewrite.changed, before=rewrite.before.summary(), after=rewrite.after.summary(),
                  checksum=sha256(rewrite.text), warnings=list(rewrite.warnings))
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = content_diff(rewrite.before, rewrite.after, source)
    return result


def read_file(shown: str) -> bytes:
    path = os.path.realpath(shown)
    if not os.path.exists(path):
        raise IniError("%s does not exist: give the path of MLflow's basic-auth ini (MLFLOW_AUTH_CONFIG_PATH)" % shown)
    if not os.path.isfile(path):
        raise IniError("%s is not a regular file" % shown)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise IniError("cannot read %s: %s" % (shown, exc.strerror)) from None


def rewrite_file(module, changes: dict) -> dict:
    params = module.params
    path = os.path.realpath(params["path"])
    rewrite = rewrite_database_uri(decode(read_file(params["path"]), params["path"]), source=params["path"], **changes)
    module.hide(*rewrite.secrets())
    result = outcome(module, rewrite, params["path"])
    if rewrite.changed and not module.check_mode:
        backup_file = replace_file(module.ansible, path, rewrite.text.encode("utf-8"), backup=params["backup"])
        if backup_file:
            result["backup_file"] = backup_file
    # mode, owner, ... as the file module sets them, also when the content is unchanged.
    attributes_diff = {}
    file_args = module.ansible.load_file_common_arguments(params, path=path)
    result["changed"] = module.ansible.set_fs_attributes_if_different(file_args, rewrite.changed, diff=attributes_diff)
    if "diff" in result:
        result["diff"] = [result["diff"]] + ([attributes_diff] if attributes_diff else [])
    return result


def read_secret(module, spec: dict, where: str) -> tuple:
    """(the Secrets resource, the Secret as a dict)."""
    try:
        resource = module.resource("Secret", "v1")
        return resource, module.client.get(resource, name=spec["name"], namespace=spec["namespace"]).to_dict()
    except NotFoundError:
        raise SecretError("%s does not exist: check secret.name and secret.namespace" % where) from None
    except DynamicApiError as exc:
        raise SecretError(api_error_message(exc, "read %s" % where)) from None
    except CollectionError:
        raise
    except Exception as exc:  # the client raises many types for an unreachable or misconfigured cluster
        raise SecretError("cannot reach the Kubernetes API to read %s: %s" % (where, exc)) from None


def patch_secret(module, resource, secret: dict, spec: dict, text: str, where: str) -> None:
    if secret.get("immutable"):
        raise SecretError("%s is immutable and cannot be updated in place: recreate it with the new content "
                          "(or make it mutable)" % where)
    patch = secret_data_patch(text, spec["key"], secret["metadata"]["resourceVersion"])
    module.hide(patch["data"][spec["key"]])
    try:
        module.client.patch(resource, patch, name=spec["name"], namespace=spec["namespace"],
                            content_type="application/merge-patch+json")
    except DynamicApiError as exc:
        if getattr(exc, "status", None) == 409:
            raise SecretError("%s changed while it was being rewritten; nothing was written: run again" % where) from None
        raise SecretError(api_error_message(exc, "update %s" % where)) from None
    except Exception as exc:  # connection errors of the client
        raise SecretError("cannot reach the Kubernetes API to update %s: %s" % (where, exc)) from None


def rewrite_secret(module, changes: dict) -> dict:
    spec = module.params["secret"]
    where = "Secret %s/%s" % (spec["namespace"], spec["name"])
    source = "%s key %s" % (where, spec["key"])
    resource, secret = read_secret(module, spec, where)
    data = secret.get("data") or {}
    module.hide(data.get(spec["key"]))
    rewrite = rewrite_database_uri(text_from_secret_data(data, spec["key"], where), source=source, **changes)
    module.hide(*rewrite.secrets())
    if rewrite.changed:
        patch_secret(module, resource, secret, spec, rewrite.text, where)
    return outcome(module, rewrite, source)


def run_rewrite(module) -> dict:
    params = module.params
    if params["secret"]:
        misplaced = [name for name in PATH_ONLY_OPTIONS if params.get(name)]
        if misplaced:
            raise CollectionError("%s only apply to path, not to secret: remove them" % ", ".join(misplaced))
    changes = uri_changes(params)
    return rewrite_secret(module, changes) if params["secret"] else rewrite_file(module, changes)
