"""Reliability in the sandbox: every playbook at -vvv --diff leaks no secret and is inert in check mode; a killed
upgrade that is rerun converges."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg2
import pytest

from tests.e2e.sandbox_flows import BUCKETS, GROUP_VARS, INVENTORY, Sandbox, utc_now, wait_for_base_backup
from tests.sandbox.runtime_stack import Stack
from tests.support.ansible_run import ANSIBLE_PLAYBOOK, PlaybookRun, ansible_env, failure_message
from tests.support.versions import REPO_ROOT

pytestmark = pytest.mark.slow

# Shorter forms are skipped: a value of a few characters (e.g. a base64 of a short word) would match ordinary
# output by chance; every secret of the sandbox inventory is longer than this in all of its forms.
SECRET_MIN_LENGTH = 8
SCHEDULED_LABEL = "cnpg.io/scheduled-backup"
KUBECONFIG_TOKEN = "sandbox-any-token-is-accepted-0000"  # sandbox/files.py writes it into every kubeconfig


def secret_forms(value: str) -> set[str]:
    """A secret as it could leak: plain, URL-encoded, base64 (forms shorter than SECRET_MIN_LENGTH skipped)."""
    forms = {value, quote(value, safe=""), base64.b64encode(value.encode()).decode()}
    return {form for form in forms if len(form) >= SECRET_MIN_LENGTH}


def app_password(sandbox: Sandbox, namespace: str, cluster: str) -> str:
    data = sandbox.cluster.get("secret", f"{cluster}-app", "-n", namespace)["data"]
    return base64.b64decode(data["password"]).decode()


def known_secrets(sandbox: Sandbox, namespace: str, clusters: list[str]) -> dict[str, str]:
    """Every secret value the runs know, in every form, mapped to a name for the messages (never the value)."""
    aws = dict(line.split("=", 1) for line in (INVENTORY / "files" / "aws.env").read_text().splitlines()
               if line and not line.startswith("#"))
    values = {"S3 access key id": aws["AWS_ACCESS_KEY_ID"], "S3 secret key": aws["AWS_SECRET_ACCESS_KEY"],
              "admin password": GROUP_VARS["mlflow_admin_password"],
              "Flask secret key": GROUP_VARS["mlflow_flask_secret_key"], "kubeconfig token": KUBECONFIG_TOKEN}
    # The auth database is a second database of the same cluster, owned by the same app user: its password is the
    # cluster's app password (basic-auth.ini gets it from the <cluster>-app Secret).
    for cluster in clusters:
        values[f"{cluster} app password"] = app_password(sandbox, namespace, cluster)
    forms = {}
    for name, value in values.items():
        for form in secret_forms(value):
            kind = "plain" if form == value else "URL-encoded" if form == quote(value, safe="") else "base64"
            forms[form] = f"{name} ({kind})"
    return forms


def strings(document: Any) -> list[str]:
    """Every key and string value of a decoded JSON document (a leak JSON-escaped in the text is found here)."""
    if isinstance(document, dict):
        return [text for key, value in document.items() for text in [str(key), *strings(value)]]
    if isinstance(document, list):
        return [text for value in document for text in strings(value)]
    return [document] if isinstance(document, str) else []


@dataclass
class Step:
    """One playbook run and what it left to search: its outputs, its report, and the API writes it made."""

    label: str  # e.g. "upgrade.yml --check"
    run: PlaybookRun
    audit: list[dict[str, Any]]
    extra: dict[str, str] = field(default_factory=dict)  # further texts to search, by name (the drill report)

    def texts(self) -> dict[str, list[str]]:
        found = {"stdout": [self.run.stdout], "stderr": [self.run.stderr],
                 "JSON callback report": strings(self.run.report or {}),
                 "task results": [json.dumps(result) for result in self.run.task_results()]}
        # Secrets legitimately carry the values: only writes of other resources are searched.
        bodies = [entry for entry in self.audit if entry.get("resource") != "secrets"]
        found["API audit (non-Secret request bodies)"] = [entry["body"] for entry in bodies]
        for entry in bodies:
            try:
                found["API audit (non-Secret request bodies)"] += strings(json.loads(entry["body"]))
            except ValueError:
                pass  # protobuf or YAML: its text above is searched as it is
        for name, text in self.extra.items():
            found[name] = [text, *strings(json.loads(text))]
        return found

    def leaks(self, secrets: dict[str, str]) -> list[str]:
        return sorted({f"{self.label}: {name} in {where}" for where, texts in self.texts().items()
                       for text in texts for form, name in secrets.items() if form in text})


class Audit:
    """The sandbox API server's audit log (audit.jsonl in its state folder), read from an offset."""

    def __init__(self, sandbox: Sandbox):
        self.path = sandbox.cluster.state_dir / "audit.jsonl"
        self.offset = self.path.stat().st_size

    def since_last(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        complete = data[:data.rfind(b"\n") + 1]  # a line being written now belongs to the next window
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]


# --- the state a check-mode run must leave as it found it -----------------------------------------------------


def scheduled_backups(sandbox: Sandbox, namespace: str) -> tuple[set[str], set[str]]:
    """Names and backup ids of the Backups the clusters' ScheduledBackups made on their own schedule."""
    items = sandbox.cluster.get("backups.postgresql.cnpg.io", "-n", namespace)["items"]
    ours = [item for item in items if SCHEDULED_LABEL in (item["metadata"].get("labels") or {})]
    return ({item["metadata"]["name"] for item in ours},
            {(item.get("status") or {}).get("backupId") for item in ours} - {None})


def database_state(sandbox: Sandbox, namespace: str, cluster: str) -> dict[str, Any] | None:
    """Alembic revisions and the row count of every table, tracking and auth database, through the -rw Service."""
    stack = Stack(sandbox.cluster, namespace)
    try:
        user, password = stack.app_credentials(cluster)
    except AssertionError:
        return None  # not deployed yet
    address = stack.service_address(f"{cluster}-rw")
    found: dict[str, Any] = {}
    for dbname in ("mlflow", "mlflow_auth"):
        conn = psycopg2.connect(host=address, port=5432, user=user, password=password, dbname=dbname,
                                connect_timeout=10)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1")
                for (table,) in cur.fetchall():
                    if table.startswith("alembic"):
                        cur.execute(f'SELECT * FROM "{table}"')
                        found[f"{dbname}.{table}"] = sorted(cur.fetchall())
                    else:
                        cur.execute(f'SELECT count(*) FROM "{table}"')
                        found[f"{dbname}.{table} rows"] = cur.fetchone()[0]
        finally:
            conn.close()
    return found


def object_store_state(sandbox: Sandbox) -> dict[str, str]:
    """Every object of the backup and artifact buckets with its ETag (an overwrite shows too)."""
    s3 = sandbox.s3()
    listing = {}
    for bucket in BUCKETS:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                listing[f"{bucket}/{item['Key']}"] = item["ETag"]
    return listing


def state(sandbox: Sandbox, namespace: str, cluster: str) -> dict[str, Any]:
    return {"objects": sandbox.snapshot(), "database": database_state(sandbox, namespace, cluster),
            "object store": object_store_state(sandbox)}


def written_by_the_cluster_itself(key: str, before: dict[str, str], backup_ids: set[str]) -> bool:
    """What PostgreSQL and its ScheduledBackup add on their own while a check run goes on, and nothing else:
    WAL segments archived (at least every archive_timeout, CNPG's 5 minutes) into a server's wals/ folder that already
    existed, and the base backup of a Backup labelled as made by a ScheduledBackup (its cron, or `immediate` once).
    A new server folder, a base backup without that label or any other object would be a playbook's doing."""
    if "/wals/" in key:
        server = key.split("/wals/")[0]
        return any(known.startswith(server + "/wals/") for known in before)
    return any(f"/base/{backup_id}/" in key for backup_id in backup_ids)


def assert_inert(label: str, before: dict[str, Any], after: dict[str, Any], scheduled: tuple[set[str], set[str]]):
    """Only what differs is named (object keys, table names, object keys), never the values (Secrets are in it)."""
    names, backup_ids = scheduled
    objects_before, objects_after = before["objects"], after["objects"]
    changed = sorted(str(key) for key in objects_before.keys() | objects_after.keys()
                     if objects_before.get(key) != objects_after.get(key)
                     and not (key[0] == "backups.postgresql.cnpg.io" and key[2] in names and key not in objects_before))
    assert not changed, f"{label} changed cluster objects: {changed}"
    database_before, database_after = before["database"] or {}, after["database"] or {}
    differing = sorted(key for key in database_before.keys() | database_after.keys()
                       if database_before.get(key) != database_after.get(key))
    assert before["database"] == after["database"], f"{label} changed the database: {differing}"
    store_before, store_after = before["object store"], after["object store"]
    added = [key for key in store_after if key not in store_before
             and not written_by_the_cluster_itself(key, store_before, backup_ids)]
    changed = [key for key in store_before if store_after.get(key) != store_before[key]]
    assert not added and not changed, f"{label} wrote to the object store: added {added}, changed or removed {changed}"


def test_every_playbook_at_vvv_with_diff_leaks_no_secret_and_is_inert_in_check_mode(
        sandbox: Sandbox, namespace: str, tmp_path: Path):
    """deploy, upgrade (3.4.0 -> 3.5.0, a schema change), backup_check, recovery_drill, recover and decommission (of
    the cluster the recovery superseded), each first with --check (then the cluster, the databases and the object
    store must be as before) and then for real, all at -vvv --diff in one namespace; at the end every secret the runs
    knew is searched in everything they left."""
    audit = Audit(sandbox)
    steps: list[Step] = []
    cluster = "pg-cluster-v1"
    version = "3.4.0"

    def step(playbook: str, check: bool, note: str = "", **extra_vars: Any) -> Step:
        label = f"{playbook}.yml" + (" --check" if check else "") + note
        before = state(sandbox, namespace, cluster) if check else None
        if check and steps:
            assert before["database"] and before["object store"], f"{label}: nothing to compare (not deployed?)"
        run = sandbox.run(playbook, namespace, version, extra_vars=extra_vars, verbosity=3, diff=True, check=check)
        assert run.returncode == 0, f"{label}: " + (failure_message(run) or run.stderr[-2000:])
        if check:
            assert_inert(label, before, state(sandbox, namespace, cluster), scheduled_backups(sandbox, namespace))
        done = Step(label, run, audit.since_last())
        assert len(run.stdout) + len(run.stderr) > 10000, f"{label}: verbose output expected"
        steps.append(done)
        return done

    step("deploy", check=True, note=" (before the first deploy)")
    deployed = step("deploy", check=False)
    assert any(entry.get("namespace") == namespace and entry.get("resource") != "secrets"
               for entry in deployed.audit), "the API audit log recorded none of deploy.yml's writes"
    wait_for_base_backup(sandbox, namespace)
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("reliability")
    client.log_run(experiment, "seeded", params={"lr": "0.1"}, metrics={"loss": 0.5})
    step("deploy", check=True, note=" (deployed)")

    step("upgrade", check=True, mlflow_tag="3.5.0")
    step("upgrade", check=False, mlflow_tag="3.5.0")
    version = "3.5.0"
    assert sandbox.mlflow(namespace).version_string() == "3.5.0"

    step("backup_check", check=True)
    step("backup_check", check=False)

    step("recovery_drill", check=True, drill_report_dir=str(tmp_path / "check"))
    assert not list(tmp_path.glob("check/drill-*.json")), "recovery_drill.yml --check wrote a drill report"
    drill = step("recovery_drill", check=False, drill_report_dir=str(tmp_path / "real"))
    reports = list(tmp_path.glob("real/drill-*.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["result"] == "passed"
    drill.extra["drill report"] = reports[0].read_text()

    client.log_run(experiment, "before-target")
    time.sleep(1.5)
    target = utc_now()
    time.sleep(1.5)
    client.log_run(experiment, "after-target")
    Stack(sandbox.cluster, namespace).switch_wal_and_wait_archived(cluster)
    step("recover", check=True, recovery_target_time=target)
    step("recover", check=False, recovery_target_time=target)
    names = sorted(run["info"]["run_name"] for run in sandbox.mlflow(namespace).search_runs(experiment))
    assert names == ["before-target", "seeded"]

    secrets = known_secrets(sandbox, namespace, ["pg-cluster-v1", "pg-cluster-v2"])
    assert len(secrets) >= 14, "every secret at least plain and base64-encoded expected"
    # The secrets are read before decommission.yml deletes pg-cluster-v1 (and its pg-cluster-v1-app Secret with it).
    cluster = "pg-cluster-v2"  # what check mode must leave as it was: the release's cluster now
    step("decommission", check=True, decommission_cluster="pg-cluster-v1")
    step("decommission", check=False, decommission_cluster="pg-cluster-v1", decommission_confirm="pg-cluster-v1")
    # The search works where the values do belong: deploy.yml's writes of Secrets carry the S3 key, base64-encoded.
    secret_writes = [entry["body"] for entry in deployed.audit if entry.get("resource") == "secrets"]
    assert any(form in body for body in secret_writes for form, name in secrets.items()
               if name == "S3 secret key (base64)"), "the S3 secret key is not in deploy.yml's Secret writes"
    leaks = [leak for done in steps for leak in done.leaks(secrets)]
    assert not leaks, f"secret values found: {leaks}"
    searched = sum(len(text) for done in steps for texts in done.texts().values() for text in texts)
    print(f"{len(steps)} runs, {len(secrets)} secret forms, {searched / 1e6:.1f} MB of text searched, "
          f"{sum(len(done.audit) for done in steps)} audited API writes")


def test_an_upgrade_killed_mid_way_is_refused_by_its_stale_lock_then_converges_with_force(sandbox: Sandbox,
                                                                                          namespace: str):
    assert sandbox.deploy(namespace, "3.4.0").returncode == 0
    variables = {"mlflow_namespace": namespace, "mlflow_url": sandbox.url(namespace),
                 "mlflow_values": sandbox.values(namespace, "3.4.0"), "mlflow_tag": "3.5.0"}
    command = [str(ANSIBLE_PLAYBOOK), "-i", str(INVENTORY / "hosts.yml"), "-e", json.dumps(variables),
               str(REPO_ROOT / "playbooks" / "upgrade.yml")]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=ansible_env(sandbox.env()), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    # Kill it in the middle: once the pre-upgrade backup exists (the lock is held, nothing migrated yet).
    while time.monotonic() < deadline and process.poll() is None:
        backups = sandbox.cluster.get("backups.postgresql.cnpg.io", "-n", namespace)["items"]
        if any("pre-upgrade" in item["metadata"]["name"] for item in backups):
            break
        time.sleep(0.5)
    assert process.poll() is None, "the upgrade ended before it could be interrupted"
    os.killpg(process.pid, signal.SIGKILL)  # the playbook and the module it was running
    process.wait(timeout=30)

    rerun = sandbox.run("upgrade", namespace, "3.4.0", extra_vars={"mlflow_tag": "3.5.0"})
    assert rerun.returncode != 0
    assert "Another run holds the lock" in failure_message(rerun) and "force=true" in failure_message(rerun)

    forced = sandbox.run("upgrade", namespace, "3.4.0", extra_vars={"mlflow_tag": "3.5.0", "mlflow_lock_force": True})
    assert forced.returncode == 0, failure_message(forced)
    assert sandbox.mlflow(namespace).version_string() == "3.5.0"
