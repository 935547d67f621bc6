"""One CNPG instance: a PostgreSQL 15 postmaster run as `postgres` (a child of the sandbox, in its own process
group), its data, socket and log under `<state>/runtime/postgres/<namespace>/<cluster>-<n>/`, listening on
the instance pod's loopback address, port 5432.

Local (socket) connections are trusted for `postgres`, as the operator's own; TCP connections need a password
(scram-sha-256), as in a CNPG cluster where the application connects with the app secret.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg2

from .processes import Process, as_user

PG_BIN = Path(os.environ.get("MLOPS_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Unix socket paths are limited to 107 bytes: sockets live in a short folder of their own.
SOCKET_ROOT = Path("/tmp/.sandbox-pg")
PORT = 5432
PG_HBA = ("# written by the sandbox's CNPG controller\n"
          "local all all trust\n"
          "local replication all trust\n"
          "host all all 127.0.0.0/8 scram-sha-256\n"
          "host all all ::1/128 scram-sha-256\n")


class PostgresError(Exception):
    pass


def _chown_postgres(path: Path, mode: int) -> None:
    import pwd  # pylint: disable=import-outside-toplevel
    entry = pwd.getpwnam("postgres")
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)


def socket_dir(address: str) -> Path:
    """The instance's socket folder, named after its (unique while it runs) loopback address."""
    return SOCKET_ROOT / address


class Instance:
    def __init__(self, root: Path, address: str, registry: Path):
        self.root = root
        self.address = address
        self.registry = registry
        self.process: Process | None = None
        self.socket_dir = socket_dir(address)

    data_dir = property(lambda self: self.root / "data")
    log_file = property(lambda self: self.root / "postgres.log")

    def bootstrapped(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def prepare(self) -> None:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.root.parent.chmod(0o755)
        _chown_postgres(self.root, 0o755)
        SOCKET_ROOT.mkdir(mode=0o755, exist_ok=True)
        _chown_postgres(self.socket_dir, 0o755)

    def as_postgres(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120,
                    stdin: str | None = None) -> subprocess.CompletedProcess:
        full = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", **(env or {})}
        result = subprocess.run(as_user("postgres", list(args)), env=full, capture_output=True, text=True,
                                timeout=timeout, check=False, input=stdin)
        if result.returncode != 0:
            raise PostgresError(f"{args[0]} failed ({result.returncode}): {(result.stderr or result.stdout)[-2000:]}")
        return result

    def initdb(self) -> None:
        self.prepare()
        self.as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth-local=trust",
                         "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        self.write_hba()

    def write_hba(self) -> None:
        self.as_postgres("sh", "-c", f"cat > {self.data_dir}/pg_hba.conf", stdin=PG_HBA)

    def append_auto_conf(self, settings: dict[str, str], signal_file: str | None = None) -> None:
        text = "".join(f"{key} = '{value.replace(chr(39), chr(39) * 2)}'\n" for key, value in settings.items())
        touch = f" && touch {self.data_dir}/{signal_file}" if signal_file else ""
        self.as_postgres("sh", "-c", f"cat >> {self.data_dir}/postgresql.auto.conf{touch}", stdin=text)

    def start(self, settings: dict[str, str], env: dict[str, str]) -> None:
        options = {"listen_addresses": self.address, "port": str(PORT),
                   "unix_socket_directories": str(self.socket_dir), **settings}
        command = [str(PG_BIN / "postgres"), "-D", str(self.data_dir)]
        for key, value in options.items():
            command += ["-c", f"{key}={value}"]
        full = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", **env}
        self.process = Process(f"postgres {self.root.name}", command, full, self.log_file, self.registry,
                               cwd=self.root, user="postgres")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_accepting(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise PostgresError(f"postgres exited: {self.log_tail()}")
            try:
                self.sql("SELECT 1")
                return
            except psycopg2.OperationalError:
                time.sleep(0.2)
        raise PostgresError(f"postgres did not accept connections within {timeout:.0f}s: {self.log_tail()}")

    def connect(self, dbname: str = "postgres"):
        conn = psycopg2.connect(host=str(self.socket_dir), port=PORT, user="postgres", dbname=dbname,
                                connect_timeout=5)
        conn.autocommit = True
        return conn

    def sql(self, query: str, params: tuple | None = None, dbname: str = "postgres") -> list[tuple]:
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def in_recovery(self) -> bool:
        return bool(self.sql("SELECT pg_is_in_recovery()")[0][0])

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster), then whatever is left of the group."""
        if self.process is not None:
            self.process.stop(grace=30, first_signal=signal.SIGINT, leader_only=True)
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""
