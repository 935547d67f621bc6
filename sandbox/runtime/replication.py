"""Physical streaming replication between the sandbox's CNPG instances, set up the way CNPG sets it up.

- every primary has the `streaming_replica` role (LOGIN REPLICATION), as CNPG's instance manager creates it
  (internal/cmd/manager/instance/run/lifecycle/run.go, configureStreamingReplicaUser);
- a replica is a clone of the primary made by `pg_basebackup` through the `<cluster>-rw` Service as
  `streaming_replica` (pkg/management/postgres/join.go, ClonePgData and Join), then a standby whose
  `primary_conninfo` names `<cluster>-rw` with `application_name=<pod>` and `recovery_target_timeline = latest`
  (conninfo.go buildPrimaryConnInfo; configuration.go writePostgresOverrideConfFile): when the Service moves to a
  promoted replica, the other standbys reconnect to it and follow its new timeline;
- CNPG authenticates `streaming_replica` with a TLS client certificate (pkg/postgres/configuration.go:
  `hostssl replication streaming_replica all cert`); the sandbox, all on its own loopback, trusts that user's
  replication connections from loopback instead (postgres.PG_HBA), and takes the base backup with a fast checkpoint
  so that a join does not wait for a spread one.
"""

from __future__ import annotations

from .postgres import PG_BIN, Postgres, PostgresError, as_postgres, make_postgres_dir

REPLICATION_USER = "streaming_replica"
# CNPG's global defaults that replication depends on (pkg/postgres/configuration.go, CnpgConfigurationSettings):
# the WAL a primary keeps for standbys that fall behind (a standby following a promoted replica asks for the
# segment of the timeline switch again), and how fast a lost peer is noticed. The sandbox sets them on Clusters
# with replicas only, so that a single instance keeps no WAL it will never send.
REPLICATION_DEFAULTS = {"wal_keep_size": "512MB", "wal_sender_timeout": "5s", "wal_receiver_timeout": "5s"}


def ensure_replication_user(primary: Postgres) -> None:
    """The role replicas connect as, with the rights they need (created or repaired)."""
    found = primary.sql("SELECT rolcanlogin, rolreplication FROM pg_roles WHERE rolname = %s", (REPLICATION_USER,))
    if not found:
        primary.sql(f"CREATE USER {REPLICATION_USER} REPLICATION")
        primary.sql(f"COMMENT ON ROLE {REPLICATION_USER} IS "
                    "'Special user for streaming replication created by CloudNativePG'")
    elif not all(found[0]):
        primary.sql(f"ALTER USER {REPLICATION_USER} LOGIN REPLICATION")


def primary_conninfo(service_host: str, application_name: str) -> str:
    """CNPG's connection string of a standby to its primary (without the TLS options the sandbox does not use)."""
    return f"host={service_host} user={REPLICATION_USER} port=5432 application_name={application_name}"


def clone(replica: Postgres, service_host: str, application_name: str, env: dict[str, str]) -> None:
    """A new data folder for `replica`: a base backup of the primary behind `service_host`, then standby settings.

    `env` resolves `service_host` (the pod's cluster DNS). The primary's postgresql.auto.conf comes with the copy
    (after a recovery it names a restore_command and a recovery target): it is replaced by the standby's settings
    only, as CNPG's override.conf holds nothing else."""
    replica.prepare()
    make_postgres_dir(replica.data_dir, 0o700)
    connection = primary_conninfo(service_host, application_name) + " dbname=postgres connect_timeout=5"
    as_postgres(str(PG_BIN / "pg_basebackup"), "-D", str(replica.data_dir), "-w", "--checkpoint=fast",
                "-d", connection, env=env, timeout=300)
    settings = {"primary_conninfo": primary_conninfo(service_host, application_name),
                "recovery_target_timeline": "latest"}
    text = "".join(f"{key} = '{value}'\n" for key, value in settings.items())
    as_postgres("sh", "-c", f"cat > {replica.data_dir}/postgresql.auto.conf && rm -f {replica.data_dir}/recovery.signal"
                f" && touch {replica.data_dir}/standby.signal", stdin=text)


def wal_position(standby: Postgres) -> tuple[int, int]:
    """(received, replayed) WAL position of a standby, as bytes: what CNPG orders failover candidates by
    (pkg/postgres/status.go, PostgresqlStatusList.Less: the highest received LSN, then the highest replayed)."""
    row = standby.sql("SELECT coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0'), 0)::bigint, "
                      "coalesce(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0)::bigint")[0]
    return int(row[0]), int(row[1])


def wal_receiver_running(standby: Postgres) -> bool:
    return bool(standby.sql("SELECT count(*) FROM pg_stat_wal_receiver")[0][0])


def promote(standby: Postgres, timeout: int = 60) -> None:
    """End recovery and become a primary on a new timeline (CNPG's instance manager runs `pg_ctl promote`)."""
    if not standby.sql("SELECT pg_promote(true, %s)", (timeout,))[0][0]:
        raise PostgresError(f"pg_promote did not finish within {timeout}s (log: {standby.log_file})")


def keep_wal_for_standbys(primary: Postgres) -> None:
    """A primary started before its Cluster had replicas (a scale up) keeps WAL for them from now on."""
    if primary.sql("SHOW wal_keep_size")[0][0] != REPLICATION_DEFAULTS["wal_keep_size"]:
        primary.sql(f"ALTER SYSTEM SET wal_keep_size = '{REPLICATION_DEFAULTS['wal_keep_size']}'")
        primary.sql("SELECT pg_reload_conf()")
