"""wal_switch, and wal_marker_info that finds its marker, through ansible-playbook against sandbox CNPG clusters (real PostgreSQL, barman-cloud, S3 over HTTPS):
one that archives, one whose ObjectStore lacks the S3's CA (barman-cloud-wal-archive fails certificate verification,
as against a store signed by a private CA: tests/sandbox/test_s3_tls_and_reach.py), a hibernated one and one that
does not exist.

Real sources: pg_switch_wal() and pg_stat_archiver (PostgreSQL docs, "Backup Control Functions", "pg_stat_archiver");
the archiver tries a segment three times before it sleeps (NUM_ARCHIVE_RETRIES, src/backend/postmaster/pgarch.c);
CNPG's hibernation annotation stops every instance (cnpg.io/hibernation, "Declarative hibernation").
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.sandbox.cluster import SandboxCluster
from tests.sandbox.runtime_stack import BACKUP_BUCKET, Stack, wait_until
from tests.support.ansible_run import run_module

pytestmark = [pytest.mark.slow]

MODULE = "mlops.mlflow.wal_switch"
PLUGIN = "barman-cloud.cloudnative-pg.io"


@pytest.fixture(name="stack", scope="module")
def fixture_stack():
    root = Path(tempfile.mkdtemp(prefix="wal-switch-tests-"))
    cluster = SandboxCluster(root).start()
    stack = Stack(cluster, f"wal-{uuid.uuid4().hex[:6]}")
    stack.prepare()
    endpoint = stack.info["s3"]["endpoint"]
    for store, with_ca in (("trusted", True), ("untrusted", False)):
        configuration = {"destinationPath": f"s3://{BACKUP_BUCKET}/{stack.namespace}", "endpointURL": endpoint,
                         "s3Credentials": {
                             "accessKeyId": {"name": "s3-credentials", "key": "AWS_ACCESS_KEY_ID"},
                             "secretAccessKey": {"name": "s3-credentials", "key": "AWS_SECRET_ACCESS_KEY"}}}
        if with_ca:
            configuration["endpointCA"] = {"name": "s3-ca", "key": "ca.crt"}
        stack.apply({"apiVersion": "barmancloud.cnpg.io/v1", "kind": "ObjectStore", "metadata": {"name": store},
                     "spec": {"configuration": configuration}})
        stack.apply({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": f"pg-{store}"},
                     "spec": {"instances": 1, "storage": {"size": "1Gi"},
                              "bootstrap": {"initdb": {"database": "app", "owner": "app"}},
                              "plugins": [{"name": PLUGIN, "isWALArchiver": True,
                                           "parameters": {"barmanObjectName": store,
                                                          "serverName": f"pg-{store}"}}]}})
    for store in ("trusted", "untrusted"):
        stack.wait_condition("clusters.postgresql.cnpg.io", f"pg-{store}", "Ready", timeout=180)
    yield stack
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def switch(stack: Stack, check: bool = False, **options):
    env = {key: stack.cluster.env[key] for key in ("K8S_AUTH_KUBECONFIG", "TMPDIR", "HOME")}
    run = run_module(MODULE, {"namespace": stack.namespace, **options}, check=check, env=env)
    assert run.report, run.stdout[-3000:]
    return run


def current_segment(stack: Stack, cluster: str) -> int:
    """The number of the segment WAL is written into. Not pg_walfile_name(pg_current_wal_lsn()): right after a
    switch the position is at a segment boundary, which pg_walfile_name gives as the previous segment, and the
    next background record (a checkpoint's) would then look like a switch."""
    return int(stack.superuser_sql(cluster, "SELECT floor((pg_current_wal_lsn() - '0/0'::pg_lsn) / setting::numeric)"
                                            " FROM pg_settings WHERE name = 'wal_segment_size'")[0][0])


def test_the_segment_is_switched_and_archived_with_the_marker_before_it(stack: Stack):
    before = current_segment(stack, "pg-trusted")
    run = switch(stack, cluster="pg-trusted", marker="20261203101500")
    assert run.returncode == 0, run.stdout[-3000:]
    assert current_segment(stack, "pg-trusted") > before  # what the check-mode test looks for
    result = run.result
    assert result["switched"] is True and result["changed"] is True and result["reason"] == "", result
    assert result["primary"] == "pg-trusted-1" and result["marker"] == "20261203101500"
    # The archiver has it now, and the store holds it (barman-cloud-wal-archive's layout: wals/<timeline+log>/).
    archived = stack.superuser_sql("pg-trusted", "SELECT last_archived_wal FROM pg_stat_archiver")[0][0]
    assert archived >= result["segment"]
    keys = [item["Key"] for item in stack.s3().list_objects_v2(
        Bucket=BACKUP_BUCKET, Prefix=f"{stack.namespace}/pg-trusted/wals/")["Contents"]]
    assert any(key.split("/")[-1].startswith(result["segment"]) for key in keys), keys
    assert stack.superuser_sql("pg-trusted", "SELECT marker FROM mlops_mlflow_wal_marker") == [("20261203101500",)]


def find_marker(stack: Stack, **options):
    env = {key: stack.cluster.env[key] for key in ("K8S_AUTH_KUBECONFIG", "TMPDIR", "HOME")}
    run = run_module("mlops.mlflow.wal_marker_info", {"namespace": stack.namespace, **options}, env=env)
    assert run.returncode == 0 and run.report, run.stdout[-3000:]
    return run.result


def test_the_marker_is_found_where_it_was_written_and_nowhere_else(stack: Stack):
    assert switch(stack, cluster="pg-trusted", marker="found_here").returncode == 0
    written_at = stack.superuser_sql("pg-trusted", "SELECT to_char(written_at AT TIME ZONE 'UTC', "
                                                   "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM mlops_mlflow_wal_marker"
                                                   " WHERE marker = 'found_here'")[0][0]
    result = find_marker(stack, cluster="pg-trusted", marker="found_here")
    result.pop("action")
    assert result == {"changed": False, "found": True, "written_at": written_at, "primary": "pg-trusted-1",
                      "reason": ""}, result
    # Another marker, in the same table: not found; a copy that never had the table: an answer, not an error.
    result = find_marker(stack, cluster="pg-trusted", marker="never_written")
    assert result["found"] is False and result["reason"] == "marker never_written is not in mlops_mlflow_wal_marker"
    result = find_marker(stack, cluster="pg-trusted", marker="found_here", marker_table="no_marker_table_here")
    assert result["found"] is False and result["reason"] == "no table no_marker_table_here: the copy holds no marker at all"
    result = find_marker(stack, cluster="pg-gone", marker="found_here")
    assert result["found"] is False and result["reason"] == "cluster pg-gone does not exist"


def test_check_mode_reads_the_cluster_and_switches_nothing(stack: Stack):
    before = current_segment(stack, "pg-trusted")
    run = switch(stack, check=True, cluster="pg-trusted", marker="20261203101600")
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.result["switched"] is False and run.result["changed"] is False
    assert run.result["reason"] == "check mode changes nothing" and run.result["primary"] == "pg-trusted-1"
    assert current_segment(stack, "pg-trusted") == before
    assert ("20261203101600",) not in stack.superuser_sql("pg-trusted", "SELECT marker FROM mlops_mlflow_wal_marker")


def test_an_archiver_that_fails_ends_the_wait_with_what_it_last_failed(stack: Stack):
    # Long before archive_timeout: three more failures of the archiver since the switch are enough.
    run = switch(stack, cluster="pg-untrusted", archive_timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    result = run.result
    assert result["switched"] is False and result["changed"] is True and result["segment"], result
    assert result["reason"].startswith(f"WAL segment {result['segment']} is not archived: the archiver failed "
                                       "three times since the switch (last failed "), result
    assert f"kubectl -n {stack.namespace} get cluster pg-untrusted" in result["reason"]


def test_a_cluster_whose_primary_does_not_run_or_that_does_not_exist_is_not_an_error(stack: Stack):
    run = switch(stack, cluster="pg-gone")
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.result["switched"] is False and run.result["reason"] == "cluster pg-gone does not exist"

    stack.cluster.kubectl("annotate", "-n", stack.namespace, "clusters.postgresql.cnpg.io", "pg-untrusted",
                          "cnpg.io/hibernation=on")
    wait_until(lambda: (stack.get("clusters.postgresql.cnpg.io", "pg-untrusted").get("status") or {})
               .get("phase") == "Cluster in hibernation", 120, "pg-untrusted to hibernate", interval=1)
    run = switch(stack, cluster="pg-untrusted")
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.result["reason"] == "the primary of pg-untrusted is not running" and run.result["primary"] == ""


def test_a_marker_that_is_not_a_plain_word_is_refused_before_anything_runs(stack: Stack):
    before = current_segment(stack, "pg-trusted")
    run = switch(stack, cluster="pg-trusted", marker="x'); DROP TABLE mlops_mlflow_wal_marker; --")
    assert run.returncode != 0
    assert "marker \"x'); DROP TABLE" in run.result["msg"] and "only letters, digits and _" in run.result["msg"]
    assert current_segment(stack, "pg-trusted") == before
