"""The catalog Job's program, run as the Job runs it (`python -c PROGRAM` in an MLflow image's Python, the store's
keys in AWS_* variables), reads exactly what the module reads from the control node: one reading code, two places.

The store is real: barman-cloud base backups and archived WAL of a real PostgreSQL in the S3 API (moto server).
"""

from __future__ import annotations

import json
import subprocess

from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog_job import (
    ENV_REQUEST, catalog_program, parse_report)
from ansible_collections.mlops.mlflow.plugins.module_utils.recovery_prepare import scan_from_control_node
from sandbox.runtime.venvs import ensure_mlflow_venv

SOURCE = "pg-cluster-v1"
MLFLOW_VERSION = "3.5.0"


def run_program(s3_server, request: dict) -> subprocess.CompletedProcess:
    """The Job's container: the MLflow image's Python, the request and the ObjectStore's keys in its environment."""
    python = ensure_mlflow_venv(MLFLOW_VERSION) / "bin" / "python"
    env = {ENV_REQUEST: json.dumps(request), "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
           "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key, "AWS_DEFAULT_REGION": s3_server.region,
           "HOME": "/tmp", "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(python), "-c", catalog_program()], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_job_program_reads_what_the_control_node_reads(pg_factory, barman_store, s3_server):
    source = pg_factory(start=False, name="source").init()
    barman_store.start_archiving(source, SOURCE)
    source.sql("CREATE TABLE runs (name text)")
    backup_id = barman_store.backup(source, SOURCE)
    source.sql("INSERT INTO runs VALUES ('after the backup')")
    source.wait_archived(source.switch_wal())
    store = {"destination_path": barman_store.destination_path, "endpoint_url": s3_server.endpoint_url,
             "access_key_id": s3_server.access_key_id, "secret_access_key": s3_server.secret_access_key,
             "session_token": None, "region": s3_server.region, "ca_bundle": None, "validate_certs": True,
             "addressing_style": "auto"}
    servers = [SOURCE, "pg-cluster-v2"]
    here = scan_from_control_node(store, servers)
    bucket, _slash, path = barman_store.destination_path[len("s3://"):].partition("/")
    request = {"bucket": bucket, "prefix": path.strip("/") + "/", "servers": servers, "addressing_style": "auto",
               "endpoint_url": s3_server.endpoint_url}

    job = run_program(s3_server, request)
    scans, error = parse_report(job.stdout)
    assert job.returncode == 0 and error is None, job.stdout + job.stderr
    assert scans == here
    assert [backup_id] == [item[0] for item in scans[0]["backup_infos"]] and scans[0]["wal_count"] >= 2
    assert scans[1]["object_count"] == 0

    refused = run_program(s3_server, dict(request, bucket="no-such-bucket"))
    scans, error = parse_report(refused.stdout)
    assert refused.returncode == 1 and scans is None
    assert error.startswith("NoSuchBucket") or "NoSuchBucket" in error, refused.stdout
