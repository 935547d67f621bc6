# -*- coding: utf-8 -*-
# Copyright (c) mlops.mlflow maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration helper program: it runs in the Python of the TARGET MLflow, never in Ansible's.

``mlflow_migrate_local.helper_program()`` ships this file as ``python -c PROGRAM plan|run``, with the import of
``mlflow_revisions`` below replaced by that file's source and ``main(sys.argv)`` as its entry point (the target's Python has MLflow, not this collection), so
both modes plan with the same code. The same program is the command of the Job in job mode. It reads the target's
migration graphs and the databases' revisions, plans, runs the migrations in-process (the functions behind
``mlflow db upgrade`` and ``python -m mlflow.server.auth db upgrade``, which would take the URI with its password
on the command line) and reports JSON events on stdout.
"""

import importlib.util
import os
import sys
import time
import traceback

# Replaced by the source of mlflow_revisions in the helper program (see helper_program()).
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import (
    AUTH,
    AUTH_VERSION_TABLE,
    CHAINS,
    LEGACY_ADMIN_PASSWORD,
    SHARED_VERSION_TABLE,
    TRACKING,
    event_line,
    legacy_admin_warning,
    make_plan,
    needs_migration,
    normalise_revisions,
    pending_of,
    refuses_legacy_admin_password,
    sanitise,
    tail,
    uri_secrets,
)

# The helper's inputs: the URIs travel in its environment, never on a command line.
ENV_TRACKING_URI = "MLFLOW_MIGRATE_TRACKING_URI"
ENV_AUTH_URI = "MLFLOW_MIGRATE_AUTH_URI"
ENV_CONNECT_TIMEOUT = "MLFLOW_MIGRATE_CONNECT_TIMEOUT"
# Path of a basic-auth.ini whose [mlflow] database_uri is the auth database (job mode mounts the Secret there).
ENV_AUTH_CONFIG = "MLFLOW_MIGRATE_AUTH_CONFIG"

# After a failed migration the revisions are read again; a database that dropped the connection (a failover to a
# replica, a restart) gets this long to answer before they are reported unknown. CNPG promotes a replica within
# seconds of losing the primary.
REREAD_SECONDS = 30
REREAD_INTERVAL = 2

# Exit codes of the helper program.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_SETUP = 2
EXIT_REFUSED = 3


def auth_uri_from_config(path):
    """database_uri of basic-auth.ini, read as MLflow reads it (configparser with interpolation: %% is %)."""
    import configparser
    parser = configparser.ConfigParser()
    if not parser.read(path):
        raise TargetError("cannot read the auth config " + path)
    try:
        return parser["mlflow"]["database_uri"]
    except KeyError:
        raise TargetError("the auth config has no [mlflow] database_uri") from None


class TargetError(Exception):
    """The target Python cannot migrate (no MLflow, no alembic, an unexpected package layout)."""


def emit(event):
    sys.stdout.write(event_line(event) + "\n")
    sys.stdout.flush()


def mlflow_version():
    from importlib import metadata
    for name in ("mlflow", "mlflow-skinny"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def describe_chain(location, version_table):
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    config = Config()
    config.set_main_option("script_location", location)
    script = ScriptDirectory.from_config(config)
    graph = {revision.revision: normalise_revisions(revision.down_revision) for revision in script.walk_revisions()}
    return {"graph": graph, "heads": sorted(script.get_heads()), "version_table": version_table}


def auth_version_table(location):
    # MLflow >= 3.6 configures `version_table="alembic_version_auth"` in the auth chain's env.py.
    with open(os.path.join(location, "env.py"), encoding="utf-8") as env_py:
        return AUTH_VERSION_TABLE if AUTH_VERSION_TABLE in env_py.read() else SHARED_VERSION_TABLE


def describe_target():
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.origin:
        raise TargetError("MLflow is not importable by %s: set mlflow_python to the Python of the target MLflow "
                          "(a venv or image with mlflow[auth] and the database driver)" % sys.executable)
    if importlib.util.find_spec("alembic") is None or importlib.util.find_spec("sqlalchemy") is None:
        raise TargetError("alembic and SQLAlchemy are not importable by %s, so MLflow cannot migrate from it"
                          % sys.executable)
    package = os.path.dirname(spec.origin)
    tracking = os.path.join(package, "store", "db_migrations")
    auth = os.path.join(package, "server", "auth", "db", "migrations")
    for location in (tracking, auth):
        if not os.path.isfile(os.path.join(location, "env.py")):
            raise TargetError("the MLflow at %s has no migration scripts at %s (is it mlflow[auth]?)"
                              % (package, location))
    return {"mlflow_version": mlflow_version(), TRACKING: describe_chain(tracking, SHARED_VERSION_TABLE),
            AUTH: describe_chain(auth, auth_version_table(auth))}


def short_error(exc, secrets):
    # The driver's message, without SQLAlchemy's statement dump and help link.
    lines = []
    for line in str(exc).splitlines():
        if line.startswith("[SQL") or line.startswith("(Background"):
            break
        if line.strip():
            lines.append(line.strip())
    return sanitise(" ".join(lines[:3]) or type(exc).__name__, secrets)


def observe(uri, timeout, secrets):
    import sqlalchemy
    from sqlalchemy.pool import NullPool
    try:
        url = sqlalchemy.engine.make_url(uri)
    except Exception as exc:  # noqa: BLE001 - any parse error means the same to the operator
        return {"reachable": False, "error": "not a valid SQLAlchemy database URL (%s)" % type(exc).__name__}
    backend = url.get_backend_name()
    database = url.database or ""
    if backend == "sqlite" and database and database != ":memory:":
        database = os.path.realpath(database)
    port = url.port or {"postgresql": 5432, "mysql": 3306, "mssql": 1433}.get(backend)
    observed = {"url_identity": [backend, (url.host or "").lower(), port, database], "server_identity": None}
    options = {"poolclass": NullPool}
    if backend in ("postgresql", "mysql"):
        options["connect_args"] = {"connect_timeout": timeout}
    try:
        engine = sqlalchemy.create_engine(url, **options)
    except Exception as exc:  # noqa: BLE001 - a missing driver, typically
        observed.update(reachable=False, error=short_error(exc, secrets))
        return observed
    try:
        with engine.connect() as connection:
            tables = sorted(sqlalchemy.inspect(connection).get_table_names())
            versions = {}
            for table in (SHARED_VERSION_TABLE, AUTH_VERSION_TABLE):
                if table in tables:
                    rows = connection.execute(sqlalchemy.text("SELECT version_num FROM %s" % table))
                    versions[table] = sorted(row[0] for row in rows)
            if backend == "postgresql":
                row = connection.execute(sqlalchemy.text(
                    "SELECT current_database(), host(inet_server_addr()), inet_server_port()")).first()
                if row and row[1]:
                    observed["server_identity"] = [row[1], row[2], row[0]]
        observed.update(reachable=True, tables=tables, versions=versions)
    except Exception as exc:  # noqa: BLE001 - reported as a refusal, with the driver's message
        observed.update(reachable=False, error=short_error(exc, secrets))
    finally:
        engine.dispose()
    return observed


def legacy_admins(uri, timeout):
    """Admin users whose password is still the old default (checked with the hash MLflow stored)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool
    from werkzeug.security import check_password_hash
    url = sqlalchemy.engine.make_url(uri)
    options = {"poolclass": NullPool}
    if url.get_backend_name() in ("postgresql", "mysql"):
        options["connect_args"] = {"connect_timeout": timeout}
    engine = sqlalchemy.create_engine(url, **options)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text("SELECT username, password_hash FROM users WHERE is_admin"))
            return sorted(name for name, digest in rows if digest and check_password_hash(digest, LEGACY_ADMIN_PASSWORD))
    finally:
        engine.dispose()


def add_admin_warning(plan, uri, timeout):
    auth = plan.get(AUTH)
    if not auth or auth.get("warning") or not refuses_legacy_admin_password(plan["mlflow_version"]):
        return
    try:
        users = legacy_admins(uri, timeout)
    except Exception:  # noqa: BLE001 - an advisory check: never let it stop a migration
        return
    auth["warning"] = legacy_admin_warning(plan["mlflow_version"], users)


def upgrade_tracking(uri):
    # The function behind `mlflow db upgrade URL`.
    from mlflow.db import upgrade
    upgrade.callback(uri)


def upgrade_auth(uri):
    # The function behind `python -m mlflow.server.auth db upgrade --url URL`.
    from mlflow.server.auth.db.cli import upgrade
    upgrade.callback(url=uri, revision="head")


def main(argv):
    action = argv[1] if len(argv) > 1 else "plan"
    uris = {TRACKING: os.environ.get(ENV_TRACKING_URI) or None, AUTH: os.environ.get(ENV_AUTH_URI) or None}
    if not uris[AUTH] and os.environ.get(ENV_AUTH_CONFIG):
        try:
            uris[AUTH] = auth_uri_from_config(os.environ[ENV_AUTH_CONFIG])
        except TargetError as exc:
            emit({"event": "error", "stage": "setup", "message": str(exc)})
            return EXIT_SETUP
    secrets = uri_secrets(uris[TRACKING]) + uri_secrets(uris[AUTH])
    timeout = int(os.environ.get(ENV_CONNECT_TIMEOUT) or 10)
    if not uris[TRACKING]:
        emit({"event": "error", "stage": "setup", "message": "no tracking database URI in " + ENV_TRACKING_URI})
        return EXIT_SETUP
    try:
        target = describe_target()

        def observe_all():
            return {chain: (observe(uris[chain], timeout, secrets) if uris[chain] else None) for chain in CHAINS}

        plan = make_plan(target, observe_all())
        if uris[AUTH] and not plan["refusals"]:
            add_admin_warning(plan, uris[AUTH], timeout)
    except TargetError as exc:
        emit({"event": "error", "stage": "setup", "message": str(exc)})
        return EXIT_SETUP
    except Exception:  # noqa: BLE001 - reported with a sanitised traceback
        emit({"event": "error", "stage": "setup", "message": sanitise(tail(traceback.format_exc(), 8), secrets)})
        return EXIT_SETUP
    emit({"event": "plan", "plan": plan})
    if plan["refusals"]:
        return EXIT_REFUSED
    if action != "run" or not needs_migration(plan):
        return EXIT_OK
    failed = False
    for chain, upgrade in ((TRACKING, upgrade_tracking), (AUTH, upgrade_auth)):
        if not (plan[chain] and plan[chain]["pending"]):
            continue
        emit({"event": "start", "chain": chain, "pending": plan[chain]["pending"]})
        try:
            upgrade(uris[chain])
        except BaseException as exc:  # noqa: BLE001 - SystemExit from click code included: report, then re-read
            sys.stderr.write(sanitise(traceback.format_exc(), secrets))
            emit({"event": "error", "stage": "%s migration" % chain,
                  "message": sanitise("%s: %s" % (type(exc).__name__, short_error(exc, secrets)), secrets)})
            failed = True
            break
        emit({"event": "done", "chain": chain})
    observed = observe_all()
    deadline = time.monotonic() + REREAD_SECONDS
    while failed and any(o is not None and not o.get("reachable") for o in observed.values()) \
            and time.monotonic() < deadline:
        time.sleep(REREAD_INTERVAL)
        observed = observe_all()
    after = make_plan(target, observed)
    emit({"event": "result", "plan": after})
    if not failed and needs_migration(after):
        emit({"event": "error", "stage": "verification",
              "message": "the migrations reported success but revisions are still pending: %s" % pending_of(after)})
        failed = True
    return EXIT_FAILED if failed else EXIT_OK
