"""barman-cloud as the Barman Cloud Plugin runs it: WAL archiving, base backups, listing and point-in-time
restore, against one destination (`s3://bucket/path`).

The tools run as `postgres` (like the plugin's sidecar next to the instance) with the S3 credentials in their
environment, never on the command line. They trust the system's CAs only, unless the ObjectStore names an
`endpointCA`: then its bundle is materialised where the sidecar would have it mounted and named by
AWS_CA_BUNDLE, which boto3 (barman-cloud's S3 client) verifies the endpoint against. The sandbox's controllers
name the store by its ObjectStore (`object_store()`); the tests and benchmarks by an S3 server and a path
(`Store.on()`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any

from . import Runtime
from .postgres import Postgres, PostgresInstance, as_postgres, make_postgres_dir
from .s3 import S3Server
from .venvs import BARMAN_VENV

PLUGIN = "barman-cloud.cloudnative-pg.io"
_NO_SUCH_KEY = 3
# Run by the barman venv's Python: verb (put|get), bucket, key, endpoint ("" for AWS); the body on stdin / stdout.
_OBJECT_IO = (
    "import sys, boto3\n"
    "verb, bucket, key, endpoint = sys.argv[1:5]\n"
    "client = boto3.client('s3', endpoint_url=endpoint or None)\n"
    "if verb == 'put':\n"
    "    client.put_object(Bucket=bucket, Key=key, Body=sys.stdin.read().encode())\n"
    "else:\n"
    "    try:\n"
    "        sys.stdout.write(client.get_object(Bucket=bucket, Key=key)['Body'].read().decode())\n"
    "    except client.exceptions.NoSuchKey:\n"
    f"        sys.exit({_NO_SUCH_KEY})\n")


class StoreError(Exception):
    """The store (or its credentials) cannot be used, or a barman-cloud tool failed."""


@dataclass
class Store:
    destination_path: str
    endpoint: str | None
    env: dict[str, str] = field(repr=False)
    wal_compression: str | None = None
    data_compression: str | None = None

    @classmethod
    def on(cls, s3: S3Server, destination_path: str) -> Store:
        """A destination on `s3`, used with its key pair."""
        return cls(destination_path=destination_path, endpoint=s3.endpoint_url, env=s3.env)

    @property
    def endpoint_args(self) -> list[str]:
        return ["--endpoint-url", self.endpoint] if self.endpoint else []

    def _run(self, name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run a barman-cloud tool against this store (its result, failed or not)."""
        return as_postgres(tool(name), *self.endpoint_args, *args, env=self.env, timeout=timeout, check=False)

    def _checked(self, name: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        result = self._run(name, *args, timeout=timeout)
        if result.returncode != 0:
            raise StoreError(f"{name} failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-3000:]}")
        return result

    # --- WAL ---------------------------------------------------------------------------------------------------

    def wal_archive_command(self, server: str) -> str:
        flags = [f"--{self.wal_compression}"] if self.wal_compression else []
        return " ".join([tool("barman-cloud-wal-archive"), *self.endpoint_args, *flags, self.destination_path,
                         server, "%p"])

    def wal_restore_command(self, server: str) -> str:
        return " ".join([tool("barman-cloud-wal-restore"), *self.endpoint_args, self.destination_path, server,
                         "%f", "%p"])

    def archive_settings(self, server: str, timeout: int) -> dict[str, str]:
        """PostgreSQL settings that archive WAL into this store under `server`, a segment at least every `timeout` s."""
        return {"wal_level": "replica", "archive_mode": "on", "archive_command": self.wal_archive_command(server),
                "archive_timeout": str(timeout)}

    def start_archiving(self, instance: PostgresInstance, server: str) -> PostgresInstance:
        """Start a test's server archiving into this store (archive_timeout as CNPG's: 5 min)."""
        return instance.start(self.archive_settings(server, 300), env=self.env)

    def check_wal_archive(self, server: str) -> subprocess.CompletedProcess:
        """rc 0 when the folder of `server` holds no WAL, 1 ("Expected empty archive") otherwise."""
        return self._run("barman-cloud-check-wal-archive", self.destination_path, server, timeout=120)

    # --- base backups ------------------------------------------------------------------------------------------

    def take_backup(self, instance: Postgres, server: str, name: str | None = None, timeout: float = 3600
                    ) -> dict[str, Any]:
        """Take a base backup of `instance` through its socket; return it as barman-cloud-backup-list lists it."""
        return self.take_backup_listed(instance, server, name, timeout)[0]

    def take_backup_listed(self, instance: Postgres, server: str, name: str | None = None, timeout: float = 3600
                           ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """take_backup, with the catalog of `server` as listed right after it (what the plugin's sidecar lists once
        after a backup to compute the recovery window)."""
        flags = ["--name", name] if name else []
        flags += [f"--{self.data_compression}"] if self.data_compression else []
        self._checked("barman-cloud-backup", "-h", str(instance.socket_dir), "-p", str(instance.port), "-U",
                      instance.superuser, "--immediate-checkpoint", *flags, self.destination_path, server,
                      timeout=timeout)
        listed = self.list_backups(server)
        found = [b for b in listed if b.get("backup_name") == name] if name else listed
        if not found:
            raise StoreError(f"barman-cloud-backup finished but no backup named {name} is listed for {server}")
        return found[-1], listed

    def backup(self, instance: Postgres, server: str) -> str:
        """Take a base backup; return its id."""
        return self.take_backup(instance, server)["backup_id"]

    def list_backups(self, server: str) -> list[dict[str, Any]]:
        result = self._checked("barman-cloud-backup-list", "--format", "json", self.destination_path, server,
                               timeout=120)
        return json.loads(result.stdout)["backups_list"]

    # --- the PostgreSQL version of a backup ----------------------------------------------------------------------
    # The processes all run this machine's PostgreSQL, so barman writes that server's version into backup.info;
    # the sandbox writes there instead the version the Cluster's image stands for, as barman would on a cluster
    # running that image (backup.info `version` is the server's server_version_num: 180006 for 18.6).

    def _info_key(self, server: str, backup_id: str) -> tuple[str, str]:
        bucket, _, prefix = self.destination_path.removeprefix("s3://").partition("/")
        return bucket, "/".join(part for part in (prefix.strip("/"), server, "base", backup_id, "backup.info") if part)

    def _object(self, verb: str, server: str, backup_id: str, body: str | None = None
                ) -> subprocess.CompletedProcess:
        """Put or get a backup's backup.info with boto3 in the store's environment: the names, credentials and CA
        bundle the instance's pod has, as the plugin's sidecar reaches the store from there."""
        bucket, key = self._info_key(server, backup_id)
        return as_postgres(tool("python"), "-c", _OBJECT_IO, verb, bucket, key, self.endpoint or "", env=self.env,
                           stdin=body, timeout=120, check=False)

    def _backup_info(self, server: str, backup_id: str) -> str | None:
        result = self._object("get", server, backup_id)
        if result.returncode == _NO_SUCH_KEY:
            return None
        if result.returncode != 0:
            raise StoreError(f"cannot read backup.info of backup {backup_id}: {_last_line(result.stderr)}")
        return result.stdout

    def record_version(self, server: str, backup_id: str, version_num: int) -> None:
        text = self._backup_info(server, backup_id)
        if text is None:
            raise StoreError(f"backup {backup_id} of {server} has no backup.info")
        result = self._object("put", server, backup_id, re.sub(r"(?m)^version=.*$", f"version={version_num}", text))
        if result.returncode != 0:
            raise StoreError(f"cannot record the PostgreSQL version of backup {backup_id}: {_last_line(result.stderr)}")

    def backup_major(self, server: str, backup_id: str) -> int | None:
        """The PostgreSQL major of a backup, from `version` in its backup.info (None when it records none)."""
        found = re.search(r"(?m)^version=(\d+)$", self._backup_info(server, backup_id) or "")
        return int(found.group(1)) // 10000 if found else None

    # --- restore -----------------------------------------------------------------------------------------------

    def prepare_recovery(self, server: str, backup_id: str, target: Postgres, target_time: str | None = None,
                         settings: dict[str, str] | None = None) -> None:
        """Restore a base backup of `server` into `target`'s new data folder, set to replay this store's WAL (up to
        `target_time`, else to the end) and promote at its next start; `settings` go into its configuration too."""
        target.prepare()
        make_postgres_dir(target.data_dir, 0o700)
        self._checked("barman-cloud-restore", self.destination_path, server, backup_id, str(target.data_dir))
        # CNPG's restore (pkg/management/postgres/restore.go) installs a fresh postgresql.conf and custom.conf, empties
        # override.conf and writes this recovery's settings there, so the settings of the source's own earlier
        # recovery never apply; the sandbox keeps them in postgresql.auto.conf, so it drops the restored ones.
        target.clear_recovery_settings()
        recovery = {"restore_command": self.wal_restore_command(server), "recovery_target_action": "promote"}
        if target_time:
            recovery["recovery_target_time"] = target_time
        target.append_auto_conf({**recovery, **(settings or {})}, signal_file="recovery.signal")

    def restore(self, server: str, backup_id: str, target: PostgresInstance, target_time: str | None = None,
                archive_as: str | None = None, pg_hba: str | None = None) -> PostgresInstance:
        """Point-in-time restore of `server` into a test's `target` (not yet initialised); start and promote it.

        The restored configuration would go on archiving into the source's folder, so archiving is switched
        off, or pointed at `archive_as` (a new serverName) when given. `pg_hba` replaces the restored
        pg_hba.conf: a backup of another installation brings that installation's access rules.
        """
        archiving = self.archive_settings(archive_as, 300) if archive_as else {"archive_mode": "off",
                                                                               "archive_command": ""}
        self.prepare_recovery(server, backup_id, target, target_time, archiving)
        if pg_hba is not None:
            target.write_hba(pg_hba)
        target.start(env=self.env)
        target.wait_until_promoted()
        return target


def tool(name: str) -> str:
    return str(BARMAN_VENV / "bin" / name)


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _secret_value(client: Any, namespace: str, ref: dict[str, Any] | None, what: str) -> str | None:
    if not ref:
        return None
    secret = client.get("v1", "Secret", namespace, ref.get("name", ""))
    if secret is None:
        raise StoreError(f'{what}: secret "{ref.get("name")}" not found in namespace {namespace}')
    value = (secret.get("data") or {}).get(ref.get("key", ""))
    if value is None:
        raise StoreError(f'{what}: secret "{ref.get("name")}" has no key "{ref.get("key")}"')
    return base64.b64decode(value).decode()


def _endpoint_ca_env(client: Any, namespace: str, name: str, configuration: dict[str, Any]) -> dict[str, str]:
    """AWS_CA_BUNDLE naming the ObjectStore's endpointCA, as the plugin sets it (cloudnative-pg/barman-cloud
    pkg/credentials/env.go, EnvSetCloudCredentialsAndCertificates) for the bundle it projects from the Secret into
    the sidecar (plugin-barman-cloud internal/cnpgi/operator/lifecycle_certificates.go); none without endpointCA:
    boto3 then trusts the system's CAs only, and a private CA's certificate fails verification."""
    reference = configuration.get("endpointCA")
    if not reference:
        return {}
    bundle = _secret_value(client, namespace, reference, "endpointCA")
    path = Runtime.current().barman_certificate_file(namespace, name)
    if not path.is_file() or path.read_text(encoding="utf-8") != bundle:
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
            folder.chmod(0o755)  # barman-cloud runs as postgres
        temporary = path.with_name(f".{path.name}.{threading.get_ident()}")  # controllers' threads race here
        temporary.write_text(bundle, encoding="utf-8")
        temporary.chmod(0o644)
        os.replace(temporary, path)
    return {"AWS_CA_BUNDLE": str(path)}


def object_store(client: Any, namespace: str, name: str, resolver_env: dict[str, str] | None = None) -> Store:
    found = client.get("barmancloud.cnpg.io/v1", "ObjectStore", namespace, name)
    if found is None:
        raise StoreError(f'ObjectStore "{name}" not found in namespace {namespace}')
    configuration = (found.get("spec") or {}).get("configuration") or {}
    credentials = configuration.get("s3Credentials") or {}
    env = dict(resolver_env or {})
    key_id = _secret_value(client, namespace, credentials.get("accessKeyId"), "s3Credentials.accessKeyId")
    secret_key = _secret_value(client, namespace, credentials.get("secretAccessKey"), "s3Credentials.secretAccessKey")
    if key_id is None or secret_key is None:
        raise StoreError(f"ObjectStore {name}: s3Credentials.accessKeyId and secretAccessKey are needed in the sandbox")
    env.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret_key,
               AWS_DEFAULT_REGION=_secret_value(client, namespace, credentials.get("region"), "s3Credentials.region")
               or "us-east-1")
    env.update(_endpoint_ca_env(client, namespace, name, configuration))
    return Store(destination_path=configuration.get("destinationPath", ""),
                 endpoint=configuration.get("endpointURL"), env=env,
                 wal_compression=(configuration.get("wal") or {}).get("compression"),
                 data_compression=(configuration.get("data") or {}).get("compression"))


def archiver_plugin(cluster: dict[str, Any]) -> dict[str, Any] | None:
    """The parameters of the Cluster's WAL-archiver plugin (barmanObjectName, serverName), or None."""
    for plugin in (cluster.get("spec") or {}).get("plugins") or []:
        if plugin.get("name") == PLUGIN and plugin.get("isWALArchiver", False) and plugin.get("enabled", True):
            parameters = dict(plugin.get("parameters") or {})
            parameters.setdefault("serverName", cluster["metadata"]["name"])
            return parameters
    return None
