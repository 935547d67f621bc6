# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pg_recover_prepare module's work: check a point-in-time recovery against the values and the backup catalog,
and prepare (optionally write) the values that make the chart bootstrap the new cluster from the old one's backups.

The value rules are `recovery_values.py`, the catalog checks `backup_catalog.py`, the YAML round trip
`values_file.py`; this file reads the inputs, calls them in order and shapes the result.
"""

from __future__ import annotations

import datetime
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.mlops.mlflow.plugins.module_utils.atomic_file import replace_file
from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog import (
    catalog_from_scan, check_major, check_new_folder, check_source, split_destination, window_as_result)
from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog_job import scan_in_cluster
from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog_scan import scan_server
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.recovery_values import (
    MANAGED_KEYS, apply_updates, get_dotted, recovery_updates, resolve_names)
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import TargetTimeError, format_utc, parse_target_time
from ansible_collections.mlops.mlflow.plugins.module_utils.values_file import (
    HAS_RUAMEL, RUAMEL_IMPORT_ERROR, ValuesDocument)

try:
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError, SSLError
    from botocore.exceptions import ConnectionError as EndpointUnreachable
    BOTO3_IMPORT_ERROR = None
except ImportError:
    BOTO3_IMPORT_ERROR = traceback.format_exc()


class MissingLibrary(CollectionError):
    """A Python library this option needs is not installed where the module runs."""

    def __init__(self, library: str, import_error: str):
        super().__init__(missing_required_lib(library), exception=import_error)


class StoreUnreachable(CollectionError):
    """The object store cannot be reached from the control node (no name, no route, no answer)."""

    def __init__(self, where: str, reason):
        super().__init__("cannot read the object store %s: the control node cannot reach it (%s). Check "
                         "object_store.endpoint_url, the network, or read the catalog from inside the cluster "
                         "(catalog_job)." % (where, reason))
        self.where = where
        self.reason = reason


def s3_client(store: dict):
    verify = store["ca_bundle"] if store["ca_bundle"] else store["validate_certs"]
    return boto3.client(
        "s3",
        endpoint_url=store["endpoint_url"] or None,
        aws_access_key_id=store["access_key_id"] or None,
        aws_secret_access_key=store["secret_access_key"] or None,
        aws_session_token=store["session_token"] or None,
        region_name=store["region"] or None,
        verify=verify,
        config=BotoConfig(s3={"addressing_style": store["addressing_style"]}, retries={"max_attempts": 3},
                          connect_timeout=10),
    )


def check_catalogs(source, new, names, target, backup_id, image=None):
    """Run every catalog check on both server folders (with `image`, the new cluster's PostgreSQL major against the
    chosen backup's); returns (result fields, new cluster started, warnings)."""
    window, backup, warnings = check_source(source, target.instant if target else None, backup_id)
    if image and backup:
        warnings += check_major(backup, image)
    started = check_new_folder(new, source, names.already_prepared)
    if started:
        warnings.append("the recovery from %s into %s has already started: %s archives WAL of the restored "
                        "database; the values are left as they are." % (names.source, names.new, new.location))
    fields = {"recovery_window": window_as_result(window), "backup": backup.as_result() if backup else {}}
    return fields, started, warnings


def scan_from_control_node(store: dict, servers: list) -> list:
    """The scans of `servers`, read with boto3 here; the store's own errors said in terms of the options to check."""
    if BOTO3_IMPORT_ERROR:
        raise MissingLibrary("boto3", BOTO3_IMPORT_ERROR)
    bucket, prefix = split_destination(store["destination_path"])
    where = "%s at %s" % (store["destination_path"], store["endpoint_url"] or "AWS S3")
    try:
        client = s3_client(store)
        return [scan_server(client, bucket, prefix, server) for server in servers]
    except ClientError as exc:
        raise CollectionError("the object store refused a request (%s): %s. Check object_store.destination_path, the "
                              "credentials and their permissions (s3:ListBucket, s3:GetObject)."
                              % (store["destination_path"], exc)) from None
    except SSLError as exc:
        if not _certificate_refused(exc):
            # The TLS handshake cut short (EOF, reset): nothing to verify, the store is not reachable from here.
            raise StoreUnreachable(where, exc) from None
        raise CollectionError("cannot verify the object store %s: %s. For a private CA give object_store.ca_bundle "
                              "(the ObjectStore's endpointCA)." % (where, exc)) from None
    except EndpointUnreachable as exc:
        raise StoreUnreachable(where, exc) from None
    except BotoCoreError as exc:
        raise CollectionError("cannot read the object store %s: %s. Check object_store.endpoint_url, the network and, "
                              "for a private CA, object_store.ca_bundle." % (where, exc)) from None


def _certificate_refused(exc) -> bool:
    """Whether the TLS error is the store's certificate refused (untrusted CA, wrong host name), as OpenSSL says it."""
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text


def read_scans(module, servers: list) -> tuple:
    """(scans, where they were read, warnings): from the control node, from a Job in the cluster, or, with
    catalog_from=auto, from the control node and from the cluster when the store is unreachable from here. The
    scans are None in check mode when only a Job could read them."""
    params = module.params
    store, job, warnings = params["object_store"], params["catalog_job"], []
    reader = params["catalog_from"]
    if reader == "auto":
        reader = "control_node" if store else "cluster"
    # The module's required_if gives an explicit reader its input; auto without a store has a catalog_job.
    unreachable = None
    if reader == "control_node":
        try:
            return scan_from_control_node(store, servers), "control_node", warnings
        except StoreUnreachable as exc:
            if params["catalog_from"] != "auto" or not job:
                raise
            unreachable = exc
            warnings.append("%s The catalog is read from inside the cluster instead (catalog_job)." % exc)
    try:
        scans, name = scan_in_cluster(module, servers, destination=store["destination_path"] if store else None,
                                      addressing_style=store["addressing_style"] if store else "auto")
    except CollectionError as exc:
        if unreachable is None:
            raise
        # Both readers failed: one message that starts like the control node's, so the store is named first.
        raise CollectionError("cannot read the object store %s, neither from the control node (%s) nor from inside "
                              "the cluster (%s). Check object_store.endpoint_url, the network and the ObjectStore "
                              "the cluster archives to." % (unreachable.where, unreachable.reason, exc)) from None
    if scans is None:
        warnings.append("In check mode the catalog Job %s was sent as a server-side dry run, not run: the backups "
                        "are checked by the real run, before any change." % name)
    return scans, "cluster", warnings


def parse_past_target(text: str | None):
    if text is None:
        return None
    target = parse_target_time(text)
    now = datetime.datetime.now(datetime.timezone.utc)
    if target.instant > now:
        raise TargetTimeError(
            "target_time %s (%s) is in the future (now is %s): a recovery can only reach archived WAL. Give a past "
            "time, or leave target_time out to recover to the latest archived WAL."
            % (text, target.text, format_utc(now.replace(microsecond=0))))
    return target


def load_values(params: dict):
    """(plain values, ValuesDocument or None, original text or None)."""
    path = params["values_file"]
    if path is None:
        return params["values"], None, None
    if not HAS_RUAMEL:
        raise MissingLibrary("ruamel.yaml", RUAMEL_IMPORT_ERROR)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise CollectionError("cannot read values_file %s: %s. Give the path of the release's values file."
                              % (path, exc.strerror or exc)) from None
    document = ValuesDocument(text, "values_file %s" % path)
    return document.plain(), document, text


def managed_view(values: dict) -> dict:
    """Only the managed keys, nested, for the diff (no other value, so no secret, is shown)."""
    view = {}
    for key in MANAGED_KEYS:
        value = get_dotted(values, key)
        if value is not None:
            section, name = key.split(".")
            view.setdefault(section, {})[name] = value
    return view


def write_document(module, document, updates: dict, original_text: str) -> str | None:
    """Set the managed keys in the YAML document (comments and layout kept) and replace the file when its text
    changes; returns the backup copy's path."""
    for key in MANAGED_KEYS:
        if key in updates:
            document.set(key, updates[key], quote=key == "recovery.targetTime")
    new_text = document.dump()
    if new_text == original_text or module.check_mode:
        return None
    return replace_file(module.ansible, module.params["values_file"], new_text.encode("utf-8"),
                        backup=module.params["backup"])


def run_prepare(module) -> dict:
    params = module.params
    for option in ("backup_id", "postgresql_image"):
        if params[option] and not (params["object_store"] or params["catalog_job"]):
            raise CollectionError("%s is checked against the backup catalog: give object_store or catalog_job too."
                                  % option)
    target = parse_past_target(params["target_time"])
    values, document, original_text = load_values(params)
    names = resolve_names(values, params["new_cluster_name"], params["source_cluster_name"])
    result, started, warnings = {}, False, []
    if params["object_store"] or params["catalog_job"]:
        scans, where, warnings = read_scans(module, [names.source, names.new])
        if scans is not None:
            source, new = (catalog_from_scan(scan) for scan in scans)
            result, started, more = check_catalogs(source, new, names, target, params["backup_id"],
                                                   params["postgresql_image"])
            warnings += more
        result["catalog_read_from"] = where
    updates = recovery_updates(values, names, target, started=started)
    new_values = apply_updates(values, updates)
    result.update(
        changed=bool(updates), old_cluster_name=names.source, new_cluster_name=names.new, new_values=new_values,
        changes=[key for key in MANAGED_KEYS if key in updates], already_prepared=names.already_prepared,
        new_cluster_started=started, target_time=target.text if target else None, warnings=warnings,
    )
    if module._diff:  # pylint: disable=protected-access
        header = params["values_file"] or "values"
        result["diff"] = {"before": managed_view(values), "after": managed_view(new_values),
                          "before_header": header, "after_header": header}
    if document is not None and updates and params["write"]:
        backup_file = write_document(module, document, updates, original_text)
        if backup_file:
            result["backup_file"] = backup_file
    return result
