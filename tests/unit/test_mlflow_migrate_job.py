"""The Job of mlflow_migrate's job mode (plugins/module_utils/mlflow_migrate_job.py)."""

from __future__ import annotations

import base64
import json

import kubernetes_validate
import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_job import (
    RUN_LABEL,
    JobError,
    JobRun,
    build_job_manifest,
    job_name,
    job_outcome,
    job_state,
    new_run_token,
    secret_references,
    secret_values,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate import misplaced_options
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_local import helper_program
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import event_line, make_plan

TOKEN = "0a1b2c3d"


def manifest(**kwargs):
    options = dict(name=job_name("mlflow-migrate", TOKEN), namespace="mlflow", image="registry/mlflow:v3.5.0",
                   token=TOKEN, tracking_uri_secret={"name": "pg-app", "key": "uri"},
                   auth_uri_secret={"name": "auth-db", "key": "database_uri"})
    options.update(kwargs)
    return build_job_manifest(**options)


def test_job_names_are_unique_valid_labels():
    assert job_name("mlflow-migrate", TOKEN) == "mlflow-migrate-0a1b2c3d"
    long_name = job_name("x" * 80, TOKEN)
    assert len(long_name) <= 63 and long_name.endswith("-" + TOKEN)
    assert new_run_token() != new_run_token()
    with pytest.raises(JobError, match="job_name_prefix"):
        job_name("Bad_Prefix", TOKEN)


def test_manifest_runs_once_with_uris_from_secrets():
    job = manifest()
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["image"] == "registry/mlflow:v3.5.0"
    assert container["command"] == ["python", "-c", helper_program(), "run"]
    env = {item["name"]: item for item in container["env"]}
    assert env["MLFLOW_MIGRATE_TRACKING_URI"]["valueFrom"]["secretKeyRef"] == {"name": "pg-app", "key": "uri"}
    assert env["MLFLOW_MIGRATE_AUTH_URI"]["valueFrom"]["secretKeyRef"] == {"name": "auth-db", "key": "database_uri"}
    assert job["metadata"]["labels"][RUN_LABEL] == TOKEN
    assert spec["template"]["metadata"]["labels"][RUN_LABEL] == TOKEN


def test_manifest_without_auth_secret_migrates_tracking_only():
    env = [item["name"] for item in manifest(auth_uri_secret=None)["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "MLFLOW_MIGRATE_AUTH_URI" not in env


def test_manifest_passes_restricted_v2():
    pod = manifest()["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "runAsUser" not in json.dumps(pod) and "fsGroup" not in json.dumps(pod)
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "HOME", "value": "/tmp"} in container["env"]
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]


def test_manifest_is_a_valid_kubernetes_job():
    pghost = {"name": "PGHOST", "valueFrom": {"secretKeyRef": {"name": "pg-app", "key": "host"}}}
    job = manifest(service_account_name="mlflow", resources={"limits": {"memory": "1Gi"}}, image_pull_policy="Always",
                   extra_env=[pghost])
    assert pghost in job["spec"]["template"]["spec"]["containers"][0]["env"]
    kubernetes_validate.validate(job, "1.30.0", strict=True)


@pytest.mark.parametrize("conditions, state", [
    ([], "running"),
    ([{"type": "Complete", "status": "True"}], "succeeded"),
    ([{"type": "Failed", "status": "True"}], "failed"),
    ([{"type": "Failed", "status": "False"}], "running"),
])
def test_job_state(conditions, state):
    assert job_state({"status": {"conditions": conditions}}) == state


def plan_log(versions):
    target = {"mlflow_version": "3.5.0", "tracking": {"graph": {"a": [], "b": ["a"]}, "heads": ["b"],
                                                      "version_table": "alembic_version"},
              "auth": {"graph": {"z": []}, "heads": ["z"], "version_table": "alembic_version"}}
    observed = {"tracking": {"reachable": True, "versions": {"alembic_version": versions}, "tables": ["experiments"]},
                "auth": None}
    return make_plan(target, observed)


def test_job_outcome_reads_the_revisions_from_the_log():
    log = "\n".join([
        "2026-01-01T00:00:00.1Z " + event_line({"event": "plan", "plan": plan_log(["a"])}),
        "INFO  [alembic.runtime.migration] Running upgrade a -> b for postgresql://app:pw123@db/mlflow",
        event_line({"event": "result", "plan": plan_log(["b"])}),
    ])
    result = job_outcome("succeeded", log, ["pw123"])
    assert result["status"] == "ok" and result["changed"] is True
    assert result["tracking"] == {"before": "a", "after": "b", "head": "b"}
    assert "pw123" not in result["log_tail"]


def test_job_outcome_of_a_failed_job_without_report_is_a_failure():
    log = event_line({"event": "plan", "plan": plan_log(["a"])}) + "\nKilled"
    result = job_outcome("failed", log)
    assert result["status"] == "failed" and "no error report" in result["msg"]


def test_secret_values_decode_the_uri_and_its_password():
    value = "postgresql://app:p%40ss@db/mlflow"
    secret = {"data": {"uri": base64.b64encode(value.encode()).decode()}}
    assert set(secret_values(secret, "uri")) == {value, "p%40ss", "p@ss"}
    assert secret_values(secret, "other") == []


class Response:
    def __init__(self, payload):
        self.payload = payload

    def to_dict(self):
        return self.payload


class ApiError(Exception):
    def __init__(self, status):
        super().__init__("HTTP %s" % status)
        self.status = status


class FakeLog:
    def __init__(self):
        self.asked = []

    def get(self, name, namespace, serialize):
        self.asked.append((name, namespace, serialize))
        return type("R", (), {"data": b"log of " + name.encode()})()


class FakeResource:
    def __init__(self, kind):
        self.kind = kind
        self.log = FakeLog()


class FakeClient:
    def __init__(self, objects):
        self.objects = objects
        self.deleted = []

    def get(self, resource, **params):
        key = (resource.kind, params.get("name"), params.get("label_selector"))
        found = self.objects.get(key)
        if isinstance(found, Exception):
            raise found
        if found is None:
            raise ApiError(404)
        return Response(found)

    def delete(self, resource, **params):
        self.deleted.append((resource.kind, params))


class FakeService:
    def __init__(self):
        self.resources = {kind: FakeResource(kind) for kind in ("Secret", "Job", "Pod")}

    def find_resource(self, kind, api_version, fail=False):
        return self.resources[kind]


class FakeModule:
    def __init__(self):
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


def job_run(objects):
    return JobRun(FakeClient(objects), FakeService(), None, FakeModule())


def test_read_secrets_checks_names_and_keys_and_returns_values_to_mask():
    uri = base64.b64encode(b"postgresql://app:pw-123@db/mlflow").decode()
    run = job_run({("Secret", "pg-app", None): {"data": {"uri": uri}}})
    assert "pw-123" in run.read_secrets("mlflow", [{"name": "pg-app", "key": "uri", "option": "tracking_uri_secret"}])
    with pytest.raises(JobError, match="has no key 'password'.*it has: uri"):
        run.read_secrets("mlflow", [{"name": "pg-app", "key": "password", "option": "tracking_uri_secret"}])
    with pytest.raises(JobError, match="does not exist"):
        run.read_secrets("mlflow", [{"name": "missing", "key": "uri", "option": "auth_uri_secret"}])


def test_read_secrets_leaves_a_forbidden_secret_to_the_job_with_a_warning():
    run = job_run({("Secret", "pg-app", None): ApiError(403)})
    assert run.read_secrets("mlflow", [{"name": "pg-app", "key": "uri", "option": "tracking_uri_secret"}]) == []
    assert "403" in run.module.warnings[0]


def test_pod_log_reads_the_newest_pod_of_this_run_and_delete_propagates():
    pods = {"items": [{"metadata": {"name": "old", "creationTimestamp": "2026-01-01T00:00:00Z"}},
                      {"metadata": {"name": "new", "creationTimestamp": "2026-01-01T00:01:00Z"}}]}
    run = job_run({("Pod", None, "%s=%s" % (RUN_LABEL, TOKEN)): pods})
    assert run.pod_log("mlflow", TOKEN) == "log of new"
    run.delete("mlflow-migrate-x", "mlflow")
    kind, params = run.client.deleted[0]
    assert kind == "Job" and params["body"]["propagationPolicy"] == "Background"


def test_job_outcome_of_a_job_without_pod_log_says_so():
    result = job_outcome("succeeded", "")
    assert result["status"] == "failed"
    assert "no report from the helper" in result["msg"] and "no pod log was found" in result["msg"]


def test_manifest_can_read_the_auth_uri_from_the_basic_auth_ini_secret():
    job = manifest(auth_uri_secret=None, auth_config_secret={"name": "mlflow-auth-config", "key": "basic-auth.ini"},
                   action="plan")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"][-1] == "plan"
    env = {item["name"]: item for item in container["env"]}
    assert "MLFLOW_MIGRATE_AUTH_URI" not in env
    assert env["MLFLOW_MIGRATE_AUTH_CONFIG"]["value"] == "/etc/mlflow-auth/basic-auth.ini"
    volume = next(v for v in pod["volumes"] if v["name"] == "auth-config")
    assert volume["secret"] == {"secretName": "mlflow-auth-config",
                                "items": [{"key": "basic-auth.ini", "path": "basic-auth.ini"}]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "auth-config")
    assert mount == {"name": "auth-config", "mountPath": "/etc/mlflow-auth", "readOnly": True}


def test_secret_values_of_an_ini_mask_the_uri_password():
    ini = "[mlflow]\ndatabase_uri = postgresql://app:p%%40ss@db:5432/mlflow_auth\nadmin_username = admin\n"
    secret = {"data": {"basic-auth.ini": base64.b64encode(ini.encode()).decode()}}
    values = secret_values(secret, "basic-auth.ini")
    assert "p@ss" in values


def test_a_tracking_uri_without_credentials_goes_in_as_a_value_next_to_the_libpq_environment():
    """A CloudNativePG application Secret the user provides (bootstrap.recovery.secret) has no `uri` key: the Job
    then gets the URI as a value and libpq its host and credentials from the environment, as the chart's server."""
    pg_env = [{"name": "PGHOST", "value": "pg-cluster-v2-rw"},
              {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}]
    job = manifest(tracking_uri_secret=None, tracking_uri="postgresql+psycopg2:///mlflow", extra_env=pg_env)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    by_name = {item["name"]: item for item in env}
    assert by_name["MLFLOW_MIGRATE_TRACKING_URI"] == {"name": "MLFLOW_MIGRATE_TRACKING_URI",
                                                      "value": "postgresql+psycopg2:///mlflow"}
    assert by_name["PGHOST"]["value"] == "pg-cluster-v2-rw"
    assert by_name["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "creds", "key": "password"}
    assert secret_references({"tracking_uri_secret": None, "auth_uri_secret": None,
                              "auth_config_secret": {"name": "mlflow-auth-config", "key": "basic-auth.ini"}}) == [
        {"name": "mlflow-auth-config", "key": "basic-auth.ini", "option": "auth_config_secret"}]


@pytest.mark.parametrize(("uri", "problem"), [
    ("postgresql+psycopg2:///mlflow", None),
    ("postgresql+psycopg2://mlflow@pg-cluster-v2-rw:5432/mlflow", None),
    ("postgresql+psycopg2://mlflow:s3cret@pg-cluster-v2-rw/mlflow", "tracking_uri carries a password"),
    ("not a uri", "tracking_uri: it does not look like a SQLAlchemy URI"),
])
def test_a_job_tracking_uri_may_name_the_database_but_never_carry_a_password(uri, problem):
    found = misplaced_options({"mode": "job", "backend_store_uri": None, "auth_db_uri": None, "mlflow_python": None,
                               "tracking_uri": uri})
    if problem is None:
        assert found is None
    else:
        assert found.startswith(problem) and "s3cret" not in found
