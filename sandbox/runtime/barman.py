"""barman-cloud as the Barman Cloud Plugin runs it, against the ObjectStore an object names.

The tools run as `postgres` (like the plugin's sidecar next to the instance) with the S3 credentials of the
ObjectStore in their environment, never on the command line.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from .processes import as_user
from .venvs import BARMAN_VENV

PLUGIN = "barman-cloud.cloudnative-pg.io"


class StoreError(Exception):
    """The ObjectStore (or its credentials) cannot be used."""


@dataclass
class Store:
    name: str
    destination: str
    endpoint: str | None
    env: dict[str, str] = field(repr=False)
    wal_compression: str | None = None
    data_compression: str | None = None

    @property
    def endpoint_args(self) -> list[str]:
        return ["--endpoint-url", self.endpoint] if self.endpoint else []

    def wal_archive_command(self, server: str) -> str:
        flags = [f"--{self.wal_compression}"] if self.wal_compression else []
        return " ".join([tool("barman-cloud-wal-archive"), *self.endpoint_args, *flags, self.destination, server,
                         "%p"])

    def wal_restore_command(self, server: str) -> str:
        return " ".join([tool("barman-cloud-wal-restore"), *self.endpoint_args, self.destination, server, "%f",
                         "%p"])

    def run(self, name: str, *args: str, timeout: float = 600, extra_env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/lib/postgresql/15/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", **self.env,
               **(extra_env or {})}
        return subprocess.run(as_user("postgres", [tool(name), *self.endpoint_args, *args]), env=env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def backups(self, server: str) -> list[dict[str, Any]]:
        result = self.run("barman-cloud-backup-list", "--format", "json", self.destination, server, timeout=120)
        if result.returncode != 0:
            raise StoreError(f"barman-cloud-backup-list failed: {result.stderr.strip()[-2000:]}")
        return json.loads(result.stdout)["backups_list"]

    def check_empty(self, server: str) -> tuple[bool, str]:
        """(True, "") when the server's WAL folder is empty, else (False, barman's message)."""
        result = self.run("barman-cloud-check-wal-archive", self.destination, server, timeout=120)
        return result.returncode == 0, (result.stderr or result.stdout).strip()[-2000:]


def tool(name: str) -> str:
    return str(BARMAN_VENV / "bin" / name)


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
    return Store(name=name, destination=configuration.get("destinationPath", ""),
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
