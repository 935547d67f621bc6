"""PostgreSQL 15 servers run as the `postgres` user.

- `Instance`: one CNPG instance of the sandbox, a postmaster that is a child of the sandbox (in its own process
  group), its data, socket and log under `<state>/runtime/postgres/<namespace>/<cluster>-<n>/`, listening on the
  instance pod's loopback address, port 5432. Local (socket) connections are trusted for `postgres`, as the
  operator's own; TCP connections need a password (scram-sha-256), as in a CNPG cluster where the application
  connects with the app secret.
- `PostgresInstance`: a server the tests and benchmarks start with `pg_ctl` on a free port of 127.0.0.1, trusting
  every connection; the superuser connects over TCP.

Both run their tools the same way, keep the same layout under their folder and answer SQL the same way (`Postgres`).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import psycopg2

from .network import free_port
from .processes import Process, as_user
from .waiting import wait_for

PG_BIN = Path(os.environ.get("MLOPS_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Unix socket paths are limited to 107 bytes: the sandbox's sockets live in a short folder of their own.
SOCKET_ROOT = Path("/tmp/.sandbox-pg")
PORT = 5432
PG_HBA = ("# written by the sandbox's CNPG controller\n"
          "local all all trust\n"
          "local replication all trust\n"
          # replicas clone and stream from the primary as streaming_replica (replication.py; CNPG: a TLS client cert)
          "host replication streaming_replica 127.0.0.0/8 trust\n"
          "host all all 127.0.0.0/8 scram-sha-256\n"
          "host all all ::1/128 scram-sha-256\n")
# Where CNPG's instance container keeps its data, sockets and temporary files (pkg/specs/pods.go PgDataPath,
# pkg/postgres/configuration.go SocketDirectory, TemporaryDirectory), as the instance Pod's env names them: on this
# host they are the instance's own folders (Instance.container_paths).
CNPG_PGDATA = "/var/lib/postgresql/data/pgdata"
CNPG_SOCKETS = "/controller/run"
CNPG_TMP = "/controller/tmp"


class PostgresError(Exception):
    pass


def postgres_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of PostgreSQL's programs; credentials in `extra` stay off every command line."""
    return {"PATH": f"{PG_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", **(extra or {})}


def as_postgres(*args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 120,
                check: bool = True) -> subprocess.CompletedProcess:
    """Run a program as `postgres`; with `check`, a non-zero exit is a PostgresError carrying its output."""
    result = subprocess.run(as_user("postgres", list(args)), env=postgres_env(env), capture_output=True, text=True,
                            timeout=timeout, check=False, input=stdin)
    if check and result.returncode != 0:
        raise PostgresError(f"{args[0]} failed ({result.returncode}): {(result.stderr or result.stdout)[-2000:]}")
    return result


def make_postgres_dir(path: Path, mode: int = 0o700) -> Path:
    """`path` owned by `postgres` (initdb, the postmaster and restores refuse anything else)."""
    entry = pwd.getpwnam("postgres")
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)
    return path


def socket_dir(address: str) -> Path:
    """A sandbox instance's socket folder, named after its (unique while it runs) loopback address."""
    return SOCKET_ROOT / address


class Postgres:
    """Folders, configuration and SQL access common to every server; subclasses start and stop it."""

    superuser = "postgres"
    initdb_auth: tuple[str, ...] = ()
    connect_timeout = 5

    def __init__(self, root: Path, host: str, port: int, sockets: Path):
        self.root = root
        self.host = host  # where the superuser connects: an address, or the socket folder
        self.port = port
        self.socket_dir = sockets

    data_dir = property(lambda self: self.root / "data")
    log_file = property(lambda self: self.root / "postgres.log")

    def prepare(self) -> None:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.root.parent.chmod(0o755)  # postgres traverses it to its own folder
        make_postgres_dir(self.root, 0o755)
        self.socket_dir.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        make_postgres_dir(self.socket_dir, 0o755)

    def bootstrapped(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self):
        """initdb (the server is not started)."""
        self.prepare()
        as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", self.superuser, *self.initdb_auth,
                    "-E", "UTF8", "--locale=C.UTF-8")
        return self

    def write_hba(self, text: str) -> None:
        as_postgres("sh", "-c", f"cat > {self.data_dir}/pg_hba.conf", stdin=text)

    def append_auto_conf(self, settings: dict[str, str], signal_file: str | None = None) -> None:
        """Add `settings` to postgresql.auto.conf (and create `signal_file`, e.g. recovery.signal, beside it)."""
        text = "".join(f"{key} = '{value.replace(chr(39), chr(39) * 2)}'\n" for key, value in settings.items())
        touch = f" && touch {self.data_dir}/{signal_file}" if signal_file else ""
        as_postgres("sh", "-c", f"cat >> {self.data_dir}/postgresql.auto.conf{touch}", stdin=text)

    def clear_recovery_settings(self) -> None:
        """Drop the recovery settings a restored postgresql.auto.conf brings from the source's own recovery (its
        restore_command and recovery_target*): a backup of a cluster once recovered to a past time would otherwise
        replay to that old target again."""
        as_postgres("sh", "-c", 'test ! -f "$1" || sed -i -E "$0" "$1"',
                    r"/^[[:space:]]*(restore_command|recovery_target[a-z_]*)[[:space:]]*=/d",
                    str(self.data_dir / "postgresql.auto.conf"))

    def connect(self, dbname: str = "postgres"):
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.superuser, dbname=dbname,
                                connect_timeout=self.connect_timeout)
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

    def in_recovery(self) -> bool:
        return bool(self.sql("SELECT pg_is_in_recovery()")[0][0])

    def wait_until_promoted(self, timeout: float = 120) -> None:
        """Wait for the end of recovery (the server accepts connections while still replaying WAL)."""
        wait_for(lambda: not self.in_recovery(), timeout,
                 f"PostgreSQL in {self.root} to finish recovery (log: {self.log_file})", interval=0.5)

    def switch_wal(self) -> str:
        """Close the current WAL segment so that archiving picks it up; return the segment name."""
        return self.sql("SELECT pg_walfile_name(pg_switch_wal())")[0][0]

    def wait_archived(self, segment: str, timeout: float = 60) -> None:
        def archived() -> bool:
            last = self.sql("SELECT last_archived_wal FROM pg_stat_archiver")[0][0]
            return last is not None and last >= segment
        wait_for(archived, timeout, f"WAL segment {segment} to be archived (log: {self.log_file})", interval=0.3)

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


class Instance(Postgres):
    """A CNPG instance: the postmaster is the sandbox's child, recorded in `registry` like every process it runs."""

    initdb_auth = ("--auth-local=trust", "--auth-host=scram-sha-256")

    def __init__(self, root: Path, address: str, registry: Path):
        super().__init__(root, str(socket_dir(address)), PORT, socket_dir(address))
        self.address = address
        self.registry = registry
        self.process: Process | None = None

    def init(self) -> Instance:
        super().init()
        self.write_hba(PG_HBA)
        return self

    def start(self, settings: dict[str, str], env: dict[str, str]) -> None:
        options = {"listen_addresses": self.address, "port": str(PORT),
                   "unix_socket_directories": str(self.socket_dir), **settings}
        command = [str(PG_BIN / "postgres"), "-D", str(self.data_dir)]
        for key, value in options.items():
            command += ["-c", f"{key}={value}"]
        self.process = Process(f"postgres {self.root.name}", command, postgres_env(env), self.log_file,
                               self.registry, cwd=self.root, user="postgres")

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def container_paths(self) -> dict[str, Path]:
        """CNPG's paths in the instance container -> this instance's folders (what pods/exec maps them to)."""
        return {CNPG_PGDATA: self.data_dir, CNPG_SOCKETS: self.socket_dir,
                CNPG_TMP: make_postgres_dir(self.root / "tmp")}

    def wait_accepting(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise PostgresError(f"postgres exited: {self.log_tail()}")
            try:
                self.sql("SELECT 1")
                return
            except psycopg2.OperationalError:
                time.sleep(0.2)
        raise PostgresError(f"postgres did not accept connections within {timeout:.0f}s: {self.log_tail()}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster), then whatever is left of the group."""
        if self.process is not None:
            self.process.stop(grace=30, first_signal=signal.SIGINT, leader_only=True)
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)


class PostgresInstance(Postgres):
    """A server of the tests (and benchmarks): `pg_ctl` starts it in the background on a free port of 127.0.0.1;
    every connection is trusted; data, socket and log under `root`."""

    initdb_auth = ("--auth=trust",)
    connect_timeout = 10

    def __init__(self, root: Path, port: int | None = None):
        super().__init__(root, "127.0.0.1", port or free_port(), root / "sock")

    def start(self, settings: dict[str, str] | None = None, env: dict[str, str] | None = None) -> PostgresInstance:
        """Start the server; `settings` become `-c` options, `env` the postmaster's environment."""
        options = [f"-p {self.port}", f"-k {self.socket_dir}", "-c listen_addresses=127.0.0.1"]
        # pg_ctl hands the options to a shell.
        options += [f"-c {key}={shlex.quote(value)}" for key, value in (settings or {}).items()]
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-o", " ".join(options), "-l",
                    str(self.log_file), "-w", "-t", "60", "start", env=env)
        return self

    def stop(self) -> None:
        """Stop the server: a fast shutdown, then its pid if that did not work."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        result = as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop",
                             check=False)
        pid = self.postmaster_pid()
        if result.returncode != 0 and pid:
            try:
                os.kill(pid, signal.SIGQUIT)
            except ProcessLookupError:
                pass

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()[0])
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

    def create_database(self, name: str, owner: str | None = None, password: str | None = None) -> str:
        """Create a database (and its owner role when given); return a SQLAlchemy URI for it."""
        if owner:
            if not self.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,)):
                self.sql(f'CREATE ROLE "{owner}" LOGIN PASSWORD %s', (password or "",))
            self.sql(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        else:
            self.sql(f'CREATE DATABASE "{name}"')
        return self.uri(name, owner or self.superuser, password)

    def uri(self, dbname: str, user: str | None = None, password: str | None = None,
            scheme: str = "postgresql", host: str = "127.0.0.1") -> str:
        credentials = quote(user or self.superuser, safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        return f"{scheme}://{credentials}@{host}:{self.port}/{dbname}"
