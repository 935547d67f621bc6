"""The catalog Job: what it takes from the ObjectStore (as barman-cloud does), the pod it runs in, its report."""

import json

from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog_job import (
    CA_DIR, ENV_REQUEST, REPORT_PREFIX, RUN_LABEL, build_catalog_job, catalog_program, parse_report)

STORE_SPEC = {"configuration": {
    "destinationPath": "s3://mlflow-backups/prod",
    "endpointURL": "https://minio.storage.svc:9000",
    "endpointCA": {"name": "s3-ca", "key": "ca.crt"},
    "s3Credentials": {"accessKeyId": {"name": "s3-credentials", "key": "ACCESS_KEY_ID"},
                      "secretAccessKey": {"name": "s3-credentials", "key": "ACCESS_SECRET_KEY"}},
}}
REQUEST = {"bucket": "mlflow-backups", "prefix": "prod/", "servers": ["pg-cluster-v1", "pg-cluster-v2"],
           "addressing_style": "auto", "endpoint_url": "https://minio.storage.svc:9000"}


def job(spec=None, **options):
    return build_catalog_job("mlflow-backup-catalog-1a2b3c4d", "mlflow", "1a2b3c4d", "registry/mlflow:3.5.0",
                             STORE_SPEC if spec is None else spec, REQUEST, **options)


def env_of(manifest):
    return {item["name"]: item for item in manifest["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_the_keys_come_from_the_objectstores_secret_and_never_as_values():
    env = env_of(job())
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "s3-credentials", "key": "ACCESS_KEY_ID"}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "s3-credentials",
                                                                         "key": "ACCESS_SECRET_KEY"}
    assert "AWS_SESSION_TOKEN" not in env and "AWS_DEFAULT_REGION" not in env
    assert json.loads(env[ENV_REQUEST]["value"]) == REQUEST


def test_the_endpoint_ca_is_mounted_and_trusted():
    manifest = job()
    pod = manifest["spec"]["template"]["spec"]
    assert {"name": "s3-ca", "secret": {"secretName": "s3-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} \
        in pod["volumes"]
    assert env_of(manifest)["AWS_CA_BUNDLE"]["value"] == CA_DIR + "/ca.crt"
    without_ca = job({"configuration": {"destinationPath": "s3://b/p", "inheritFromIAMRole": True}})
    assert "AWS_CA_BUNDLE" not in env_of(without_ca) and "AWS_ACCESS_KEY_ID" not in env_of(without_ca)


def test_one_restricted_attempt_labelled_with_its_run():
    manifest = job(service_account_name="mlflow-automation", image_pull_policy="IfNotPresent")
    spec = manifest["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert spec["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["serviceAccountName"] == "mlflow-automation" and container["imagePullPolicy"] == "IfNotPresent"
    assert spec["template"]["metadata"]["labels"][RUN_LABEL] == "1a2b3c4d"
    assert container["command"] == ["python", "-c", catalog_program()]


def test_the_program_is_the_scanner_itself_and_compiles():
    program = catalog_program()
    compile(program, "<catalog job>", "exec")
    assert "def scan_server(" in program and "import ansible" not in program and "ansible_collections" not in program


def test_the_last_report_line_wins():
    scans = [{"server_name": "pg-cluster-v1"}]
    log = "warning: something\n%s%s\n" % (REPORT_PREFIX, json.dumps({"scans": scans}))
    assert parse_report(log) == (scans, None)
    failed = "%s%s\n" % (REPORT_PREFIX, json.dumps({"error": "EndpointConnectionError", "message": "no route"}))
    assert parse_report(failed) == (None, "EndpointConnectionError: no route")
    assert parse_report("Traceback (most recent call last):\n") == (None, None)
    assert parse_report(REPORT_PREFIX + "{not json") == (None, None)
