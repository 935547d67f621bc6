"""Overhead of mlops.mlflow.mlflow_migrate against a bare `mlflow db upgrade` on the same database.

A PostgreSQL 15 instance gets an MLflow 2.22.5 tracking schema with 1 M metric rows (inserted with SQL), then two
identical copies (CREATE DATABASE ... TEMPLATE). One copy is upgraded to 3.17.2 by `mlflow db upgrade URL`, the
other by the module through ansible-playbook (so the ratio includes everything an operator waits for: Ansible's
start, the module's reads before and after, the helper's imports). One run; prints JSON and writes
benchmarks/results/mlflow_migrate.json.

Run with `make bench` (or `.venv/bin/python benchmarks/bench_mlflow_migrate.py`); MLFLOW_MIGRATE_BENCH_ROWS changes
the number of metric rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# pylint: disable=wrong-import-position
from benchmarks import record  # noqa: E402
from sandbox.runtime.postgres import PostgresInstance  # noqa: E402
from sandbox.runtime.venvs import ensure_mlflow_venv  # noqa: E402
from tests.support.ansible_run import run_module  # noqa: E402

SOURCE_VERSION = "2.22.5"
TARGET_VERSION = "3.17.2"
ROWS = int(os.environ.get("MLFLOW_MIGRATE_BENCH_ROWS", "1000000"))
RUNS = 1000
RESULTS = REPO_ROOT / "benchmarks" / "results" / "mlflow_migrate.json"

INIT_SCHEMA = """
import os, sqlalchemy
from mlflow.store.db.utils import _initialize_tables
_initialize_tables(sqlalchemy.create_engine(os.environ["TRACKING_URI"]))
"""

FILL = f"""
INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
VALUES (1, 'bench', '/tmp/bench', 'active', 1700000000000, 1700000000000);
INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time,
                  source_version, lifecycle_stage, artifact_uri, experiment_id)
SELECT md5(r::text), 'run-' || r, 'LOCAL', 'bench', '', 'bench', 'FINISHED', 1700000000000 + r, 1700000001000 + r,
       '', 'active', '/tmp/bench/' || r, 1
FROM generate_series(1, {RUNS}) AS r;
INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)
SELECT 'loss', random(), 1700000000000 + g, md5((1 + g % {RUNS})::text), g / {RUNS}, false
FROM generate_series(0, {ROWS} - 1) AS g;
INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)
SELECT 'loss', 0.5, 1700000000000, 0, false, md5(r::text) FROM generate_series(1, {RUNS}) AS r;
ANALYZE;
"""


def head_of(pg: PostgresInstance, dbname: str) -> str:
    return pg.sql("SELECT version_num FROM alembic_version", dbname=dbname)[0][0]


def prepare(pg: PostgresInstance) -> str:
    uri = pg.create_database("bench_source", owner="app", password="bench-pass%word")
    python = ensure_mlflow_venv(SOURCE_VERSION) / "bin" / "python"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONWARNINGS": "ignore", "TRACKING_URI": uri}
    subprocess.run([str(python), "-c", INIT_SCHEMA], env=env, check=True, capture_output=True, text=True)
    conn = pg.connect("bench_source")
    try:
        with conn.cursor() as cur:
            cur.execute("SET ROLE app")
            cur.execute(FILL)
    finally:
        conn.close()
    for copy in ("bench_bare", "bench_module"):
        pg.sql(f'CREATE DATABASE "{copy}" TEMPLATE bench_source OWNER app')
    return uri


def time_bare(uri: str) -> float:
    mlflow = ensure_mlflow_venv(TARGET_VERSION) / "bin" / "mlflow"
    started = time.monotonic()
    subprocess.run([str(mlflow), "db", "upgrade", uri], check=True, capture_output=True, text=True, timeout=3600,
                   env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONWARNINGS": "ignore"})
    return time.monotonic() - started


def time_module(uri: str) -> tuple[float, dict]:
    python = ensure_mlflow_venv(TARGET_VERSION) / "bin" / "python"
    started = time.monotonic()
    run = run_module("mlops.mlflow.mlflow_migrate", {"backend_store_uri": uri, "mlflow_python": str(python)})
    elapsed = time.monotonic() - started
    if run.returncode != 0:
        raise RuntimeError(f"the module failed: {run.stdout[-3000:]}")
    return elapsed, run.result


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    root.chmod(0o755)
    pg = PostgresInstance(root=root / "pg")
    try:
        pg.init().start()
        started = time.monotonic()
        prepare(pg)
        prepared = time.monotonic() - started
        rows = pg.sql("SELECT count(*) FROM metrics", dbname="bench_source")[0][0]
        for copy in ("bench_bare", "bench_module"):
            # Read every copy once so that neither upgrade starts from a colder cache than the other.
            pg.sql("SELECT count(*) FROM metrics", dbname=copy)
        bare = time_bare(pg.uri("bench_bare", "app", "bench-pass%word"))
        module, result = time_module(pg.uri("bench_module", "app", "bench-pass%word"))
        if head_of(pg, "bench_bare") != head_of(pg, "bench_module") or not result["changed"]:
            raise RuntimeError("the two copies did not end at the same head")
        report = {
            "benchmark": "mlflow_migrate overhead vs bare `mlflow db upgrade`",
            "from": SOURCE_VERSION,
            "to": TARGET_VERSION,
            "metric_rows": rows,
            "runs": RUNS,
            "bare_mlflow_db_upgrade_s": round(bare, 2),
            "module_via_ansible_playbook_s": round(module, 2),
            "module_reported_duration_s": result["duration"],
            "ratio": round(module / bare, 2),
            "data_preparation_s": round(prepared, 1),
            "machine": f"{os.cpu_count()} cores, one run",
        }
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    record.append_rows("mlflow_migrate", [(
        f"{SOURCE_VERSION} -> {TARGET_VERSION}, {rows:,} metric rows", record.seconds(module), record.seconds(bare),
        record.ratio(module, bare), "module through ansible-playbook / bare `mlflow db upgrade`")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
