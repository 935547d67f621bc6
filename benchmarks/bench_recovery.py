"""Recovery RTO and RPO of recover.yml and of the recovery drill, for a small and a ~1 GB database, against the floor.

For each size, one MLflow 3.5.0 installation in the sandbox: runs logged through the API (and, for the large case,
metric rows inserted with SQL until the tracking database holds ~1 GB, then a fresh base backup), a last run
logged just before the "incident", its WAL archived. Then, in this order:

- the drill (`recovery_drill.yml`): its own report gives RTO and RPO;
- the floor: bare `barman-cloud-restore` of the same base backup into a local PostgreSQL, WAL replay to the end of
  the archive and promotion, then `mlflow server` on it until the first authenticated answer. No checks, no
  Kubernetes: what no procedure can go below on this machine;
- `recover.yml` to the latest archived WAL: RTO = from the playbook's start until it has verified MLflow on the
  recovered data (what follows, the new cluster's first base backup and the old one's hibernation, is reported as
  playbook_s); RPO = the span of writes lost (0 when the last run is there); the client-visible outage = the
  longest span a prober (the upgrade benchmark's: /health every 100 ms through the Route) saw failing. The drill is
  watched the same way: production's clients should see no failure while it restores elsewhere;
- `recover.yml` to a time between two runs logged after that: MLflow serves through the restore and rolls onto the
  recovered cluster; its clients' outage (none expected) is reported against the bare MLflow start;
- the runbook by hand, the second comparison: the manual procedure the collection replaces (docs/chart.md
  "Backups and recovery"), typed by a person who never pauses and checks nothing: one `helm upgrade` (a new
  clusterName, recovery.serverName the current one, MLflow at 0 replicas), basic-auth.ini's Secret replaced,
  `kubectl wait` for the cluster, `kubectl scale` back, until the first authenticated answer. No preflight, lock,
  WAL switch or verification: what `recover.yml` adds to the runbook costs its RTO this much.

Writes benchmarks/results/recovery.json, appends rows to docs/benchmarks.md and draws docs/images/recovery-phases.svg.
BENCH_RECOVERY_LARGE_MB (default 1024) sets the size of the large case; 0 skips it. `--redraw` draws the picture
again from the last results, without measuring.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# pylint: disable=wrong-import-position
from benchmarks import phases, record, svg  # noqa: E402
from sandbox.runtime.barman import Store  # noqa: E402
from sandbox.runtime.postgres import PostgresInstance  # noqa: E402
from sandbox.runtime.s3 import S3Server  # noqa: E402
from tests.e2e.sandbox_flows import ADMIN, Sandbox, runs_around_a_target  # noqa: E402
from tests.e2e.test_recover_drill import run_names, wait_for_base_backup  # noqa: E402
from tests.sandbox.runtime_stack import Stack, wait_until  # noqa: E402
from tests.support.mlflow_server import start_mlflow_server  # noqa: E402
from tests.support.prober import Prober  # noqa: E402
from tests.support.versions import REPO_ROOT  # noqa: E402

VERSION = "3.5.0"
CLUSTER = "pg-cluster-v1"
LARGE_MB = int(os.environ.get("BENCH_RECOVERY_LARGE_MB", "1024"))
BATCH_ROWS = 500_000  # ~150 MB of metric rows and their index
IMAGES = REPO_ROOT / "docs" / "images"
# The floor's own instance on loopback: the restored pg_hba.conf is the sandbox cluster's, not valid here.
FLOOR_HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"


def checked(run):
    if run.returncode != 0:
        record.fail(f"playbook failed: {run.stdout[-3000:]}")
    return run


def database_mb(stack: Stack) -> float:
    return stack.sql(CLUSTER, "SELECT pg_database_size('mlflow') / 1048576.0")[0][0]


def grow(stack: Stack, run_id: str, megabytes: int) -> float:
    """Insert metric rows (what dominates a real tracking database) until the database holds `megabytes`."""
    start = 0
    while database_mb(stack) < megabytes:
        stack.sql(CLUSTER, "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                           f"SELECT 'bulk', random(), 1700000000000 + g, '{run_id}', g, false "
                           f"FROM generate_series({start}, {start + BATCH_ROWS - 1}) AS g")
        start += BATCH_ROWS
        print(f"  tracking database: {database_mb(stack):.0f} MB", flush=True)
    return float(database_mb(stack))


def fresh_base_backup(sandbox: Sandbox, namespace: str) -> None:
    """A base backup after the load, as the nightly ScheduledBackup would take: the restore then starts from it."""
    name = f"bench-{int(time.time())}"
    sandbox.cluster.kubectl("apply", "-f", "-", stdin=f"""
apiVersion: postgresql.cnpg.io/v1
kind: Backup
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  cluster: {{name: {CLUSTER}}}
  method: plugin
  pluginConfiguration: {{name: barman-cloud.cloudnative-pg.io}}
""")
    stack = Stack(sandbox.cluster, namespace)
    phase = wait_until(lambda: (stack.get("backups.postgresql.cnpg.io", name).get("status") or {}).get("phase")
                       in ("completed", "failed") and stack.get("backups.postgresql.cnpg.io", name)["status"]["phase"],
                       3600, f"backup {name}", interval=2)
    if phase != "completed":
        record.fail(f"backup {name} ended {phase}")


def prepare(sandbox: Sandbox, namespace: str, megabytes: int) -> dict:
    checked(sandbox.deploy(namespace, VERSION))
    wait_for_base_backup(sandbox, namespace)
    stack = Stack(sandbox.cluster, namespace)
    client = sandbox.mlflow(namespace)
    experiment = client.create_experiment("bench")
    first = client.log_run(experiment, "run-0", metrics={"loss": 1.0})
    for index in range(1, 10):
        client.log_run(experiment, f"run-{index}", metrics={"loss": 1.0 / (index + 1)})
    size = grow(stack, first, megabytes) if megabytes else float(database_mb(stack))
    if megabytes:
        fresh_base_backup(sandbox, namespace)
    client.log_run(experiment, "last-before-incident")
    last_write = time.time()
    stack.switch_wal_and_wait_archived(CLUSTER)
    return {"database_mb": round(size), "last_write": last_write}


def restore_progress(run) -> list[str]:
    """The progress lines the wait for the restored cluster printed (every 5 s): what a person saw of the restore."""
    return [line for line in run.stdout.splitlines() if line.startswith("resource_wait: ") and "Cluster " in line]


def drill(sandbox: Sandbox, namespace: str) -> dict:
    # Production is watched through its Route while the drill restores elsewhere: its clients should see nothing.
    with tempfile.TemporaryDirectory() as reports, Prober(sandbox.mlflow(namespace)) as prober:
        wall = time.time()
        run = checked(sandbox.run("recovery_drill", namespace, VERSION, extra_vars={"drill_report_dir": reports}))
        report = json.loads(next(Path(reports).glob("drill-*.json")).read_text())
    found = phases.phases(run.report, phases.DRILL, origin=wall)
    return {"playbook_s": round(time.time() - wall, 1), "rto_s": report["rto_seconds"],
            "rpo_s": report["rpo_seconds"], "runs": report["runs"], "phases": found,
            "client_outage_s": round(prober.longest_outage(), 1), "failed_probes": prober.failures,
            "probes": len(prober.results), "restore_progress": restore_progress(run)}


def floor(sandbox: Sandbox, namespace: str, workdir: Path) -> dict:
    """Bare restore + WAL replay + promotion + MLflow start, from the same backups, without any check."""
    s3 = sandbox.info["s3"]
    server = S3Server(process=None, endpoint_url=s3["endpoint"], access_key_id=s3["access_key_id"],
                      secret_access_key=s3["secret_access_key"], region=s3["region"],
                      ca_bundle=Path(s3["ca_bundle"]) if s3.get("ca_bundle") else None)
    store = Store.on(server, f"s3://mlflow-backups/{namespace}")
    stack = Stack(sandbox.cluster, namespace)
    ini = stack.get("secret", "mlflow-auth-config")["data"]["basic-auth.ini"]
    target = PostgresInstance(workdir / "pg")
    started = time.monotonic()
    backup_id = store.list_backups(CLUSTER)[-1]["backup_id"]
    store.restore(CLUSTER, backup_id, target, pg_hba=FLOOR_HBA)
    promoted = time.monotonic()
    user, password = stack.app_credentials(CLUSTER)
    auth_ini = workdir / "basic-auth.ini"
    ini_text = base64.b64decode(ini).decode()
    # The ini names the cluster's service and no credentials (the pod gets them as PGUSER/PGPASSWORD, as here).
    auth_ini.write_text(re.sub(r"://[^/\s]+/", f"://127.0.0.1:{target.port}/", ini_text), encoding="utf-8")
    auth_ini.chmod(0o600)
    mlflow = start_mlflow_server(VERSION, f"postgresql+psycopg2://127.0.0.1:{target.port}/mlflow", auth_ini,
                                 workdir / "mlflow", extra_env={"PGUSER": user, "PGPASSWORD": password})
    try:
        mlflow.admin = ADMIN
        wait_until(lambda: mlflow.api("GET", "experiments/search?max_results=1").status_code == 200, 120,
                   "the restored MLflow to answer an authenticated call", interval=0.1)
        answered = time.monotonic()
    finally:
        mlflow.stop()
        target.stop()
    found = [("restore + WAL replay + promotion", 0.0, round(promoted - started, 2)),
             ("start MLflow", round(promoted - started, 2), round(answered - started, 2))]
    return {"restore_replay_promote_s": round(promoted - started, 1), "mlflow_start_s": round(answered - promoted, 1),
            "rto_s": round(answered - started, 1), "phases": found}


def recover(sandbox: Sandbox, namespace: str, last_write: float) -> dict:
    # What MLflow's clients see: the prober's longest outage (first failed probe to the next success), next to the
    # RTO, which also counts the preflight and plan that run while the old server still answers.
    with Prober(sandbox.mlflow(namespace)) as prober:
        wall = time.time()
        run = checked(sandbox.run("recover", namespace, VERSION))
        playbook = time.time() - wall
        wait_until(lambda: prober.results and prober.results[-1][1], 60, "a probe to succeed after the recovery")
    found = phases.phases(run.report, phases.RECOVERY, origin=wall)
    # Service is back once the verification passed; protecting the new cluster (waiting for its first base backup,
    # as long as a backup of the whole database takes) and hibernating the old one follow while MLflow serves.
    rto = phases.end_of(run.report, phases.RECOVERY_VERIFIED, origin=wall)
    if rto is None:
        record.fail("recover.yml ran no verification: no RTO to report")
    names = run_names(sandbox, namespace)
    # Writes lost: none when the last run before the incident was recovered.
    rpo = 0.0 if "last-before-incident" in names else round(time.time() - last_write, 1)
    return {"rto_s": round(rto, 1), "playbook_s": round(playbook, 1), "rpo_s": rpo, "runs": len(names),
            "phases": found,
            "client_outage_s": round(prober.longest_outage(), 1), "failed_probes": prober.failures,
            "probes": len(prober.results), "restore_progress": restore_progress(run)}


def recover_past(sandbox: Sandbox, namespace: str) -> dict:
    """recover.yml to a time between two runs, after the recovery to the latest state: MLflow serves from the old
    cluster while the new one restores, then rolls onto it (old pods serve until the new ones are Ready), so its
    clients should see no outage at all."""
    target = runs_around_a_target(sandbox.mlflow(namespace), f"past-{int(time.time())}")
    with Prober(sandbox.mlflow(namespace)) as prober:
        wall = time.time()
        run = checked(sandbox.run("recover", namespace, VERSION, extra_vars={"recovery_target_time": target}))
        wait_until(lambda: prober.results and prober.results[-1][1], 60, "a probe to succeed after the recovery")
    rto = phases.end_of(run.report, phases.RECOVERY_VERIFIED, origin=wall)
    names = run_names(sandbox, namespace)
    if rto is None or "before-target" not in names or "after-target" in names:
        record.fail(f"recover.yml to {target} did not recover the runs before it only: {names}")
    return {"rto_s": round(rto, 1), "target": target, "phases": phases.phases(run.report, phases.RECOVERY, origin=wall),
            "client_outage_s": round(prober.longest_outage(), 1), "failed_probes": prober.failures,
            "probes": len(prober.results)}


def by_hand(sandbox: Sandbox, namespace: str, workdir: Path) -> dict:
    """The runbook's recovery to the latest state, typed without a pause, from `helm upgrade` to the first
    authenticated answer. A person following it skips what recover.yml adds: the plan checked against the catalog,
    the lock, the WAL switch after MLflow stops (so the writes of the last minutes, not archived yet, are lost:
    CNPG archives at least every 5 minutes), the verification."""
    stack = Stack(sandbox.cluster, namespace)
    values = json.loads(sandbox.cluster.helm("get", "values", "mlflow", "-n", namespace, "-o", "json").stdout)
    old = values["postgresql"]["clusterName"]
    new = re.sub(r"[0-9]+$", lambda number: str(int(number.group()) + 1), old)  # pg-cluster-v3 -> pg-cluster-v4
    replicas = stack.get("deployment", "mlflow")["spec"]["replicas"]
    # The runbook's steps 1-3 in values.yaml: a new cluster name, the old one as the backups' serverName, MLflow at 0.
    values["postgresql"]["clusterName"] = new
    values["recovery"] = dict(values.get("recovery") or {}, serverName=old, targetTime="")
    values["mlflow"]["replicas"] = 0
    values_file = workdir / "values.json"
    values_file.write_text(json.dumps(values), encoding="utf-8")
    ini = base64.b64decode(stack.get("secret", "mlflow-auth-config")["data"]["basic-auth.ini"]).decode()
    ini_file = workdir / "basic-auth.ini"
    ini_file.write_text(ini.replace(f"{old}-rw", f"{new}-rw"), encoding="utf-8")
    client = sandbox.mlflow(namespace)
    kubectl = sandbox.cluster.kubectl
    marks = [time.monotonic()]
    sandbox.cluster.helm("upgrade", "mlflow", str(REPO_ROOT / "charts" / "mlflow"), "-n", namespace,
                         "-f", str(values_file))
    marks.append(time.monotonic())
    kubectl("-n", namespace, "delete", "secret", "mlflow-auth-config")
    kubectl("-n", namespace, "create", "secret", "generic", "mlflow-auth-config",
            f"--from-file=basic-auth.ini={ini_file}")
    marks.append(time.monotonic())
    kubectl("-n", namespace, "wait", "--for=condition=Ready", f"clusters.postgresql.cnpg.io/{new}", "--timeout=115s")
    marks.append(time.monotonic())
    kubectl("-n", namespace, "scale", "deployment/mlflow", f"--replicas={replicas}")
    marks.append(time.monotonic())
    wait_until(lambda: client.api("GET", "experiments/search?max_results=1").status_code == 200, 600,
               "MLflow to answer an authenticated call on the cluster recovered by hand", interval=0.1)
    marks.append(time.monotonic())
    labels = ("helm upgrade (new cluster, MLflow at 0)", "basic-auth.ini", "restore + WAL replay + promotion",
              "kubectl scale", "start MLflow")
    found = [(label, round(start - marks[0], 2), round(end - marks[0], 2))
             for label, start, end in zip(labels, marks, marks[1:])]
    return {"rto_s": round(marks[-1] - marks[0], 1), "cluster": new, "phases": found}


def draw(results: dict) -> None:
    """The Gantt chart of every recovery measured, from the results (so it can be redrawn without a rerun)."""
    rows = []
    for result in results.values():
        if not isinstance(result, dict):
            continue
        size = f"{result['database_mb']} MB"
        rows += [(f"recover.yml, {size}", result["recover"]["phases"])]
        if "recover_past" in result:
            rows.append((f"recover.yml to a past time, {size}", result["recover_past"]["phases"]))
        if "by_hand" in result:
            rows.append((f"the runbook by hand, {size}", result["by_hand"]["phases"]))
        rows += [(f"drill, {size}", result["drill"]["phases"]), (f"floor, {size}", result["floor"]["phases"])]
    svg.phase_gantt(IMAGES / "recovery-phases.svg", "Recovery phases in the sandbox (seconds from the start)", rows)


def main() -> int:
    if sys.argv[1:] == ["--redraw"]:
        draw(json.loads((record.RESULTS_DIR / "recovery.json").read_text()))
        return 0
    sizes = [("small", 0)] + ([("large", LARGE_MB)] if LARGE_MB else [])
    results: dict = {}
    sandbox = Sandbox.start()
    try:
        for label, megabytes in sizes:
            namespace = f"rto-{label}"
            print(f"==> {label} database", flush=True)
            state = prepare(sandbox, namespace, megabytes)
            drill_result = drill(sandbox, namespace)
            with tempfile.TemporaryDirectory(prefix="bench-floor-") as workdir:
                Path(workdir).chmod(0o755)  # postgres traverses it to its data folder
                floor_result = floor(sandbox, namespace, Path(workdir))
            recover_result = recover(sandbox, namespace, state["last_write"])
            past_result = recover_past(sandbox, namespace)
            with tempfile.TemporaryDirectory(prefix="bench-by-hand-") as workdir:
                hand_result = by_hand(sandbox, namespace, Path(workdir))
            results[label] = {"database_mb": state["database_mb"], "drill": drill_result, "floor": floor_result,
                              "recover": recover_result, "recover_past": past_result, "by_hand": hand_result,
                              "recover_rto_ratio": round(recover_result["rto_s"] / floor_result["rto_s"], 2),
                              "recover_by_hand_ratio": round(recover_result["rto_s"] / hand_result["rto_s"], 2),
                              "drill_rto_ratio": round(drill_result["rto_s"] / floor_result["rto_s"], 2)}
    finally:
        sandbox.stop()
    record.write_json("recovery", results)
    draw(results)
    rows = []
    for result in results.values():
        size = f"{result['database_mb']} MB"
        rows.append((f"recover.yml RTO, {size}", record.seconds(result["recover"]["rto_s"]),
                     record.seconds(result["floor"]["rto_s"]), f"{result['recover_rto_ratio']:.2f}",
                     f"RPO {result['recover']['rpo_s']} s; client-visible outage {result['recover']['client_outage_s']} s;"
                     f" RTO ends at the verification (whole playbook {result['recover']['playbook_s']} s);"
                     " floor = bare restore + replay + promotion + MLflow start"))
        hand = result["by_hand"]
        rows.append((f"recover.yml RTO against the runbook by hand, {size}", record.seconds(result["recover"]["rto_s"]),
                     record.seconds(hand["rto_s"]), f"{result['recover_by_hand_ratio']:.2f}",
                     "floor = the runbook's steps without a pause: helm upgrade (new cluster, MLflow at 0), "
                     "basic-auth.ini Secret replaced, kubectl wait, kubectl scale, first authenticated answer; "
                     "no plan, lock, WAL switch or verification (writes not yet archived are lost)"))
        past = result["recover_past"]
        rows.append((f"recover.yml to a past time: client-visible outage, {size}", record.seconds(past["client_outage_s"]),
                     record.seconds(result["floor"]["mlflow_start_s"]),
                     f"{past['client_outage_s'] / result['floor']['mlflow_start_s']:.2f}",
                     f"MLflow served while the new cluster restored, then rolled onto it: {past['failed_probes']} "
                     f"failed of {past['probes']} probes (RTO {past['rto_s']} s); floor = the bare MLflow start on the "
                     f"restored database; to the latest state (stopped first) the outage was "
                     f"{result['recover']['client_outage_s']} s"))
        rows.append((f"drill RTO, {size}", record.seconds(result["drill"]["rto_s"]),
                     record.seconds(result["floor"]["rto_s"]), f"{result['drill_rto_ratio']:.2f}",
                     f"RPO {result['drill']['rpo_s']} s (drill report); production's clients: "
                     f"{result['drill']['failed_probes']} failed of {result['drill']['probes']} probes"))
    record.append_rows("recovery", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
