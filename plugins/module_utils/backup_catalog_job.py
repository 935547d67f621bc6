# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the backup catalog from inside the cluster: a Job with the MLflow image (it has boto3) runs
backup_catalog_scan's own source and prints the summaries, which the module checks as it checks its own reads.

This is for an object store only pods can reach (an in-cluster MinIO or ODF endpoint, a store behind the cluster's
egress). The Job uses exactly what barman-cloud uses: the ObjectStore's destinationPath and endpointURL, its
s3Credentials Secret keys as environment variables (the keys never pass through the control node) and its endpointCA
Secret as the CA bundle.
"""

from __future__ import annotations

import inspect
import json

from ansible_collections.mlops.mlflow.plugins.module_utils import backup_catalog_scan
from ansible_collections.mlops.mlflow.plugins.module_utils.backup_catalog import split_destination
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.k8s_job import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    job_name,
    job_runner,
    job_state,
    new_run_token,
    restricted_job,
    secret_env,
)

RUN_LABEL = "mlflow.mlops/catalog-run"
APP_NAME = "mlflow-backup-catalog"
ENV_REQUEST = "MLOPS_MLFLOW_CATALOG_REQUEST"
REPORT_PREFIX = "mlops-mlflow-catalog: "
CA_DIR = "/etc/mlops-mlflow-s3-ca"
# The ObjectStore's s3Credentials keys (barman-cloud's names) and the variables boto3 reads them from.
CREDENTIAL_VARIABLES = (
    ("accessKeyId", "AWS_ACCESS_KEY_ID"),
    ("secretAccessKey", "AWS_SECRET_ACCESS_KEY"),
    ("sessionToken", "AWS_SESSION_TOKEN"),
    ("region", "AWS_DEFAULT_REGION"),
)

# The entry point is added here: module_utils code must not exit the process (ansible-test's sanity rule).
ENTRY_POINT = '''

def _catalog_main():
    import json
    import os
    import sys

    import boto3
    from botocore.config import Config

    request = json.loads(os.environ["%(env)s"])
    config = Config(s3={"addressing_style": request["addressing_style"]}, retries={"max_attempts": 3},
                    connect_timeout=10)
    client = boto3.client("s3", endpoint_url=request["endpoint_url"] or None, config=config)
    try:
        scans = [scan_server(client, request["bucket"], request["prefix"], name) for name in request["servers"]]
    except Exception as exc:  # reported to the module, which says what to check
        print("%(prefix)s" + json.dumps({"error": type(exc).__name__, "message": str(exc)}), flush=True)
        sys.exit(1)
    print("%(prefix)s" + json.dumps({"scans": scans}), flush=True)


_catalog_main()
''' % {"env": ENV_REQUEST, "prefix": REPORT_PREFIX}


def catalog_program() -> str:
    """The Job's program: backup_catalog_scan's source (standard library only), then the entry point."""
    return inspect.getsource(backup_catalog_scan) + ENTRY_POINT


def build_catalog_job(name: str, namespace: str, token: str, image: str, store_spec: dict, request: dict,
                      python_command: str = "python", service_account_name: str | None = None,
                      image_pull_policy: str | None = None) -> dict:
    """The catalog Job for an ObjectStore's `spec.configuration` (barman-cloud's BarmanObjectStoreConfiguration)."""
    configuration = store_spec.get("configuration") or {}
    credentials = configuration.get("s3Credentials") or {}
    env = [{"name": ENV_REQUEST, "value": json.dumps(request, sort_keys=True)}]
    env += [secret_env(variable, credentials[field]) for field, variable in CREDENTIAL_VARIABLES
            if isinstance(credentials.get(field), dict)]
    volumes = [{"name": "tmp", "emptyDir": {}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    ca = configuration.get("endpointCA")
    if ca:
        items = [{"key": ca["key"], "path": "ca.crt"}]
        volumes.append({"name": "s3-ca", "secret": {"secretName": ca["name"], "items": items}})
        mounts.append({"name": "s3-ca", "mountPath": CA_DIR, "readOnly": True})
        env.append({"name": "AWS_CA_BUNDLE", "value": CA_DIR + "/ca.crt"})
    env += [{"name": "HOME", "value": "/tmp"}, {"name": "PYTHONUNBUFFERED", "value": "1"},
            {"name": "PYTHONWARNINGS", "value": "ignore"}]
    container = {"name": "catalog", "image": image, "command": [python_command, "-c", catalog_program()],
                 "env": env, "volumeMounts": mounts}
    if image_pull_policy:
        container["imagePullPolicy"] = image_pull_policy
    labels = {NAME_LABEL: APP_NAME, MANAGED_BY_LABEL: MANAGED_BY, RUN_LABEL: token}
    return restricted_job(name, namespace, labels, container, volumes, service_account_name)


def parse_report(log_text: str):
    """(scans, error) from the Job's log: the last report line wins; (None, None) when there is none."""
    for line in reversed((log_text or "").splitlines()):
        if line.startswith(REPORT_PREFIX):
            try:
                report = json.loads(line[len(REPORT_PREFIX):])
            except ValueError:
                return None, None
            if "error" in report:
                return None, "%s: %s" % (report["error"], report.get("message", ""))
            return report.get("scans"), None
    return None, None


def read_object_store(module, namespace: str, name: str) -> dict:
    try:
        return module.client.get(module.resource("ObjectStore", "barmancloud.cnpg.io/v1"), name=name,
                                 namespace=namespace).to_dict()
    except Exception as exc:  # pylint: disable=broad-exception-caught
        if getattr(exc, "status", None) == 404:
            raise CollectionError("ObjectStore %s/%s (catalog_job.object_store_name) does not exist: name the "
                                  "ObjectStore the cluster's barman-cloud plugin archives to." % (namespace, name)) \
                from None
        raise


def scan_in_cluster(module, servers: list, destination: str | None = None, addressing_style: str = "auto"):
    """The scans of `servers` under `destination` (default: the ObjectStore's destinationPath), read by a Job;
    (scans or None in check mode, the Job's name)."""
    params = module.params["catalog_job"]
    namespace = params["namespace"]
    store = read_object_store(module, namespace, params["object_store_name"])
    spec = store.get("spec") or {}
    configuration = spec.get("configuration") or {}
    bucket, prefix = split_destination(destination or configuration.get("destinationPath"))
    request = {"bucket": bucket, "prefix": prefix, "servers": servers, "addressing_style": addressing_style,
               "endpoint_url": configuration.get("endpointURL") or ""}
    token = new_run_token()
    name = job_name(params["job_name_prefix"], token)
    manifest = build_catalog_job(name, namespace, token, params["image"], spec, request,
                                 python_command=params["python_command"],
                                 service_account_name=params["service_account_name"],
                                 image_pull_policy=params["image_pull_policy"])
    runner = job_runner(module)
    runner.create(manifest)
    if module.check_mode:
        return None, name
    finished, instance, elapsed = runner.wait(name, namespace, params["wait_timeout"], 1)
    log_text = runner.run_log(namespace, "%s=%s" % (RUN_LABEL, token))
    state = job_state(instance) if finished else "running"
    if state == "succeeded" or not params["keep_failed_job"]:
        runner.delete(name, namespace)
    scans, error = parse_report(log_text)
    if scans is not None and state == "succeeded":
        return scans, name
    where = "Job %s/%s" % (namespace, name)
    if not finished:
        reason = "did not finish within %s s (an image that cannot be pulled, or no room to schedule it)" % elapsed
    elif error:
        reason = "could not read the object store: %s" % error
    else:
        reason = "%s without a report; its log ends: %s" % (state, (log_text or "(no log)").strip()[-400:])
    raise CollectionError(
        "the backup catalog could not be read from inside the cluster: %s %s. Check the ObjectStore %s "
        "(endpointURL, the s3Credentials Secret, endpointCA) and that catalog_job.image (%s) has Python and boto3.%s"
        % (where, reason, params["object_store_name"], params["image"],
           " The Job is kept: `kubectl -n %s describe job/%s`." % (namespace, name)
           if params["keep_failed_job"] and state != "succeeded" else ""))
