"""Fixtures for real components: PostgreSQL 15, an S3 server, barman-cloud and MLflow servers.

Every process a fixture starts listens on a free loopback port and is stopped by the fixture that started it.
PostgreSQL, S3 and barman-cloud are run by the sandbox's own helpers (sandbox/runtime/), as the sandbox runs them.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# `ansible_collections.mlops.mlflow` importable for tests of plugins/module_utils (make setup links the checkout).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collections"))

from sandbox.runtime.barman import Store  # noqa: E402  pylint: disable=wrong-import-position
from sandbox.runtime.postgres import PostgresInstance  # noqa: E402  pylint: disable=wrong-import-position
from sandbox.runtime.s3 import S3Server, start_s3_server  # noqa: E402  pylint: disable=wrong-import-position
from tests.support.leftovers import kill_all, processes_under  # noqa: E402  pylint: disable=wrong-import-position
from tests.support.mlflow_server import (  # noqa: E402  pylint: disable=wrong-import-position
    MlflowServer, start_mlflow_server, write_basic_auth_ini)
from tests.support.scheduling import LongestFirstScheduling  # noqa: E402  pylint: disable=wrong-import-position


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", metavar="FILE", default=None,
                     help="write each test's seconds (setup + call + teardown) as JSON, e.g. tests/durations.json")
    parser.addoption("--live-target", metavar="FILE", default=None,
                     help="run tests/live against the cluster this target file describes (docs/live-testing.md) "
                          "instead of a sandbox")


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope` (make test): module units, e2e scenarios one by one, longest first, one long unit per
    worker at a time (tests/support/scheduling.py)."""
    if config.getvalue("dist") == "loadscope":
        return LongestFirstScheduling(config, log)
    return None


_DURATIONS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--record-durations")
    if path and not hasattr(session.config, "workerinput") and _DURATIONS:
        recorded = {nodeid: round(seconds, 1) for nodeid, seconds in sorted(_DURATIONS.items())}
        Path(path).write_text(json.dumps(recorded, indent=1) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def shared_tmp() -> Iterator[Path]:
    """A scratch folder the `postgres` user can traverse (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mlops-tests-"))
    path.chmod(0o755)
    yield path
    # Every fixture stops what it started; anything still running here is a leak, and the run says so.
    leftovers = processes_under(path)
    kill_all(leftovers)
    shutil.rmtree(path, ignore_errors=True)
    if leftovers:
        pytest.fail("processes left running after the tests (now killed):\n"
                    + "\n".join(f"  {pid}: {cmd[:200]}" for pid, cmd in leftovers))


@pytest.fixture
def work_dir(shared_tmp: Path) -> Path:
    path = shared_tmp / uuid.uuid4().hex[:10]
    path.mkdir(mode=0o755)
    return path


@pytest.fixture
def pg_factory(work_dir: Path) -> Iterator[Callable[..., PostgresInstance]]:
    """Make PostgreSQL instances: `pg_factory()` initialises and starts one; `pg_factory(start=False)` only
    reserves its folders (for a restore target)."""
    instances: list[PostgresInstance] = []

    def make(start: bool = True, name: str | None = None) -> PostgresInstance:
        instance = PostgresInstance(root=work_dir / (name or f"pg{len(instances)}"))
        instances.append(instance)
        if start:
            instance.init().start()
        return instance

    yield make
    for instance in reversed(instances):
        instance.stop()


@pytest.fixture
def pg(pg_factory) -> PostgresInstance:
    return pg_factory()


@pytest.fixture(scope="session")
def s3_server(shared_tmp: Path) -> Iterator[S3Server]:
    server = start_s3_server(shared_tmp, registry=shared_tmp / "processes")
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    return s3_server.create_bucket()


@pytest.fixture
def barman_store(s3_server: S3Server, s3_bucket: str) -> Store:
    return Store.on(s3_server, f"s3://{s3_bucket}/mlflow-pg")


@pytest.fixture
def mlflow_server_factory(work_dir: Path) -> Iterator[Callable[..., MlflowServer]]:
    """Start MLflow servers: `mlflow_server_factory(version, backend_uri, auth_uri)`; stopped at the end."""
    servers: list[MlflowServer] = []

    def start(version: str, backend_store_uri: str, auth_database_uri: str, **kwargs) -> MlflowServer:
        folder = work_dir / f"mlflow-{len(servers)}"
        folder.mkdir()
        ini = write_basic_auth_ini(folder / "basic-auth.ini", auth_database_uri)
        server = start_mlflow_server(version, backend_store_uri, ini, folder, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def mlflow_databases(pg: PostgresInstance) -> dict[str, str]:
    """A tracking and a SEPARATE auth database (MLflow <= 3.5 share one alembic_version table name)."""
    return {
        "tracking": pg.create_database("mlflow", owner="app", password="app-pass%word@1"),
        "auth": pg.create_database("mlflow_auth", owner="app", password="app-pass%word@1"),
    }
