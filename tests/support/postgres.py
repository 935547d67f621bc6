"""PostgreSQL 15 instances run as the `postgres` user on free loopback ports."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg2

from .net import free_port, wait_for
from .paths import as_postgres, make_postgres_dir


@dataclass
class PostgresInstance:
    """One PostgreSQL server: data, socket and log under `root`, listening on 127.0.0.1:`port`."""

    root: Path
    port: int = field(default_factory=free_port)
    superuser: str = "postgres"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def init(self) -> PostgresInstance:
        make_postgres_dir(self.root, 0o755)
        make_postgres_dir(self.socket_dir, 0o755)
        as_postgres("initdb", "-D", str(self.data_dir), "-U", self.superuser, "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8")
        return self

    def start(self, settings: dict[str, str] | None = None, env: dict[str, str] | None = None) -> PostgresInstance:
        """Start the server; `settings` become `-c` options, `env` the postmaster's environment."""
        options = [f"-p {self.port}", f"-k {self.socket_dir}", "-c listen_addresses=127.0.0.1"]
        options += [f"-c {key}={value}" for key, value in (settings or {}).items()]
        as_postgres("pg_ctl", "-D", str(self.data_dir), "-o", " ".join(options), "-l", str(self.log_file),
                    "-w", "-t", "60", "start", env=env)
        return self

    def stop(self) -> None:
        """Stop the server: a fast shutdown, then its pid if that did not work."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        result = as_postgres("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop",
                             check=False)
        pid = self.postmaster_pid()
        if result.returncode != 0 and pid:
            try:
                os.kill(pid, signal.SIGQUIT)
            except ProcessLookupError:
                pass

    def postmaster_pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text(encoding="utf-8").splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def connect(self, dbname: str = "postgres"):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.superuser, dbname=dbname,
                                connect_timeout=10)
        conn.autocommit = True
        return conn

    def sql(self, query: str, params: tuple | None = None, dbname: str = "postgres") -> list[tuple]:
        """Run one statement; return its rows (empty for statements without a result)."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def create_database(self, name: str, owner: str | None = None, password: str | None = None) -> str:
        """Create a database (and its owner role when given); return a SQLAlchemy URI for it."""
        if owner:
            exists = self.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,))
            if not exists:
                self.sql(f'CREATE ROLE "{owner}" LOGIN PASSWORD %s', (password or "",))
            self.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        else:
            self.sql(f'CREATE DATABASE "{name}"')
        return self.uri(name, owner or self.superuser, password)

    def uri(self, dbname: str, user: str | None = None, password: str | None = None,
            scheme: str = "postgresql", host: str = "127.0.0.1") -> str:
        user = user or self.superuser
        credentials = quote(user, safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        return f"{scheme}://{credentials}@{host}:{self.port}/{dbname}"

    def wait_until_promoted(self, timeout: float = 120) -> None:
        """Wait for the end of recovery (`pg_ctl -w` returns while still replaying WAL)."""
        wait_for(lambda: self.sql("SELECT pg_is_in_recovery()")[0][0] is False, timeout,
                 f"PostgreSQL on port {self.port} to finish recovery (log: {self.log_file})", interval=0.5)

    def switch_wal(self) -> str:
        """Close the current WAL segment so that archiving picks it up; return the segment name."""
        return self.sql("SELECT pg_walfile_name(pg_switch_wal())")[0][0]

    def wait_archived(self, segment: str, timeout: float = 60) -> None:
        def archived() -> bool:
            last = self.sql("SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver")[0]
            return last[0] is not None and last[0] >= segment
        wait_for(archived, timeout, f"WAL segment {segment} to be archived (log: {self.log_file})", interval=0.3)


def wait_stopped(instance: PostgresInstance, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while instance.is_running() and time.monotonic() < deadline:
        time.sleep(0.2)
