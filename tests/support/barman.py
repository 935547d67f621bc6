"""barman-cloud, as the CNPG Barman Cloud Plugin runs it: WAL archiving, base backups, listing and PITR."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.runtime.venvs import BARMAN_VENV

from .paths import as_postgres, make_postgres_dir
from .postgres import PostgresInstance
from .s3 import S3Server


@dataclass
class BarmanStore:
    """One barman-cloud destination (`s3://bucket/path`) on an S3 server."""

    s3: S3Server
    destination_path: str
    venv: Path = BARMAN_VENV

    def tool(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    @property
    def endpoint_args(self) -> list[str]:
        return ["--endpoint-url", self.s3.endpoint_url]

    def run(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a barman-cloud tool as `postgres` with the S3 credentials in its environment."""
        result = as_postgres(self.tool(name), *self.endpoint_args, *args, env=self.s3.env, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{name} failed with rc={result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def archive_settings(self, server_name: str) -> dict[str, str]:
        """postgresql settings that archive WAL into this store under `server_name`."""
        command = (f"{self.tool('barman-cloud-wal-archive')} --endpoint-url {self.s3.endpoint_url} "
                   f"{self.destination_path} {server_name} %p")
        return {"archive_mode": "on", "wal_level": "replica", "archive_timeout": "300",
                "archive_command": f"'{command}'"}

    def start_archiving(self, instance: PostgresInstance, server_name: str) -> PostgresInstance:
        return instance.start(self.archive_settings(server_name), env=self.s3.env)

    def backup(self, instance: PostgresInstance, server_name: str) -> str:
        """Take a base backup; return its id."""
        self.run("barman-cloud-backup", "-h", str(instance.socket_dir), "-p", str(instance.port), "-U",
                 instance.superuser, "--immediate-checkpoint", self.destination_path, server_name)
        return self.list_backups(server_name)[-1]["backup_id"]

    def list_backups(self, server_name: str) -> list[dict]:
        result = self.run("barman-cloud-backup-list", "--format", "json", self.destination_path, server_name)
        return json.loads(result.stdout)["backups_list"]

    def check_wal_archive(self, server_name: str) -> subprocess.CompletedProcess:
        """rc 0 when the folder of `server_name` holds no WAL, 1 ("Expected empty archive") otherwise."""
        return self.run("barman-cloud-check-wal-archive", self.destination_path, server_name, check=False)

    def restore(self, server_name: str, backup_id: str, target: PostgresInstance,
                target_time: str | None = None, archive_as: str | None = None,
                pg_hba: str | None = None) -> PostgresInstance:
        """Point-in-time restore of `server_name` into `target` (not yet initialised); start and promote it.

        The restored configuration would go on archiving into the source's folder, so archiving is switched
        off, or pointed at `archive_as` (a new serverName) when given. `pg_hba` replaces the restored
        pg_hba.conf: a backup of another installation brings that installation's access rules.
        """
        make_postgres_dir(target.root, 0o755)
        make_postgres_dir(target.socket_dir, 0o755)
        make_postgres_dir(target.data_dir, 0o700)
        self.run("barman-cloud-restore", self.destination_path, server_name, backup_id, str(target.data_dir))
        if pg_hba is not None:
            as_postgres("sh", "-c", f"cat > {target.data_dir}/pg_hba.conf", input=pg_hba)
        restore_command = (f"{self.tool('barman-cloud-wal-restore')} --endpoint-url {self.s3.endpoint_url} "
                           f"{self.destination_path} {server_name} %f %p")
        settings = {"restore_command": f"'{restore_command}'", "recovery_target_action": "'promote'"}
        if target_time:
            settings["recovery_target_time"] = f"'{target_time}'"
        if archive_as:
            settings.update(self.archive_settings(archive_as))
        else:
            settings.update({"archive_mode": "off", "archive_command": "''"})
        auto_conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        as_postgres("sh", "-c", f"cat >> {target.data_dir}/postgresql.auto.conf && touch {target.data_dir}/recovery.signal",
                    input=auto_conf)
        target.start(env=self.s3.env)
        target.wait_until_promoted()
        return target
