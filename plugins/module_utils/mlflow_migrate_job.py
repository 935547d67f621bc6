# -*- coding: utf-8 -*-
# Copyright (c) mlops.mlflow maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the migration helper as a Kubernetes Job with the target image (job mode of mlflow_migrate).

The manifest builder and the interpretation of a finished Job are plain functions; `JobRun` is k8s_job's
KubernetesJob plus the check of the Secrets the migration reads.
"""

from __future__ import annotations

import base64

from ansible_collections.mlops.mlflow.plugins.module_utils.k8s_job import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    JobError,
    KubernetesJob,
    job_name,
    job_runner,
    job_state,
    new_run_token,
    restricted_job,
    secret_env,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import (
    outcome,
    parse_events,
    sanitise,
    tail,
    uri_secrets,
)
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_local import MigrationFailed, helper_program
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_runner import (
    ENV_AUTH_CONFIG,
    ENV_AUTH_URI,
    ENV_CONNECT_TIMEOUT,
    ENV_TRACKING_URI,
)

RUN_LABEL = "mlflow.mlops/migration-run"
APP_NAME = "mlflow-migrate"
AUTH_CONFIG_DIR = "/etc/mlflow-auth"
AUTH_CONFIG_FILE = "basic-auth.ini"


def build_job_manifest(name: str, namespace: str, image: str, token: str, tracking_uri_secret: dict | None,
                       auth_uri_secret: dict | None = None, action: str = "run", python_command: str = "python",
                       connect_timeout: int = 10, service_account_name: str | None = None,
                       resources: dict | None = None, image_pull_policy: str | None = None,
                       labels: dict | None = None, extra_env: list | None = None,
                       auth_config_secret: dict | None = None, tracking_uri: str | None = None) -> dict:
    """The migration Job: one attempt (`backoffLimit: 0`, `restartPolicy: Never`), the database URIs from
    Secrets (or a tracking URI without credentials, libpq taking them from `extra_env`), a container that passes
    OpenShift's restricted-v2 SCC (no fixed UID, no capabilities, HOME in an emptyDir)."""
    all_labels = dict(labels or {})
    all_labels.update({NAME_LABEL: APP_NAME, MANAGED_BY_LABEL: MANAGED_BY, RUN_LABEL: token})
    if tracking_uri_secret:
        env = [secret_env(ENV_TRACKING_URI, tracking_uri_secret)]
    else:
        env = [{"name": ENV_TRACKING_URI, "value": tracking_uri}]
    volumes = [{"name": "tmp", "emptyDir": {}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if auth_uri_secret:
        env.append(secret_env(ENV_AUTH_URI, auth_uri_secret))
    elif auth_config_secret:
        # The auth database URI is where the server reads it: database_uri in basic-auth.ini.
        items = [{"key": auth_config_secret["key"], "path": AUTH_CONFIG_FILE}]
        volumes.append({"name": "auth-config", "secret": {"secretName": auth_config_secret["name"], "items": items}})
        mounts.append({"name": "auth-config", "mountPath": AUTH_CONFIG_DIR, "readOnly": True})
        env.append({"name": ENV_AUTH_CONFIG, "value": "%s/%s" % (AUTH_CONFIG_DIR, AUTH_CONFIG_FILE)})
    env += [
        {"name": ENV_CONNECT_TIMEOUT, "value": str(connect_timeout)},
        {"name": "HOME", "value": "/tmp"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "PYTHONWARNINGS", "value": "ignore"},
    ]
    env += list(extra_env or [])
    container = {
        "name": "migrate",
        "image": image,
        "command": [python_command, "-c", helper_program(), action],
        "env": env,
        "volumeMounts": mounts,
    }
    if resources:
        container["resources"] = resources
    if image_pull_policy:
        container["imagePullPolicy"] = image_pull_policy
    return restricted_job(name, namespace, all_labels, container, volumes, service_account_name)


def job_outcome(state: str, log_text: str, secrets=()) -> dict:
    """The module's result from a finished Job's state and its pod's log."""
    result = outcome(parse_events(log_text))
    result["log_tail"] = sanitise(tail(log_text), secrets)
    if result["status"] == "broken":
        result.update(status="failed", msg="The migration Job %s, but its pod log has no report from the helper: %s%s"
                      % (state, result["msg"], " (no pod log was found)" if not (log_text or "").strip() else ""))
    elif result["status"] == "ok" and state != "succeeded":
        result.update(status="failed", msg="The migration Job %s but its log has no error report: read the Job's "
                                           "events and log_tail; the revisions may have changed." % state)
    return result


def secret_values(secret: dict | None, key: str) -> list:
    """The values to mask for one Secret key (decoded value and the password inside it; for an ini, the
    passwords of the URIs in it)."""
    data = (secret or {}).get("data") or {}
    if key not in data:
        return []
    value = base64.b64decode(data[key]).decode("utf-8", errors="replace")
    found = uri_secrets(value)
    for line in value.splitlines():
        _name, sep, rest = line.partition("=")
        if sep:
            found += uri_secrets(rest.strip().replace("%%", "%"))
    return [value] + found


class JobRun(KubernetesJob):
    """The migration Job's run: KubernetesJob plus the check of the Secrets it reads."""

    def read_secrets(self, namespace: str, references: list) -> list:
        """Check each referenced Secret key exists; return its values for masking. A Secret the credentials may not
        read is left to the Job (a warning says so)."""
        secrets_resource = self._resource("Secret", "v1")
        values = []
        for reference in references:
            try:
                secret = self.client.get(secrets_resource, name=reference["name"], namespace=namespace).to_dict()
            except Exception as exc:  # pylint: disable=broad-exception-caught
                status = getattr(exc, "status", None)
                if status == 404:
                    raise JobError("Secret %s/%s (named in %s) does not exist: create it, or name the Secret that "
                                   "holds the database URI" % (namespace, reference["name"], reference["option"])) from exc
                self.module.warn("Could not read Secret %s/%s to check it (%s); the Job will fail if it is missing."
                                 % (namespace, reference["name"], status or type(exc).__name__))
                continue
            if reference["key"] not in (secret.get("data") or {}):
                raise JobError("Secret %s/%s has no key %r (named in %s); it has: %s"
                               % (namespace, reference["name"], reference["key"], reference["option"],
                                  ", ".join(sorted((secret.get("data") or {}).keys())) or "no keys"))
            values += secret_values(secret, reference["key"])
        return values

    def pod_log(self, namespace: str, token: str) -> str:  # pylint: disable=arguments-differ
        return self.run_log(namespace, "%s=%s" % (RUN_LABEL, token))


def secret_references(params: dict) -> list:
    references = []
    if params["tracking_uri_secret"]:
        references.append(dict(params["tracking_uri_secret"], option="tracking_uri_secret"))
    if params["auth_uri_secret"]:
        references.append(dict(params["auth_uri_secret"], option="auth_uri_secret"))
    elif params["auth_config_secret"]:
        references.append(dict(params["auth_config_secret"], option="auth_config_secret"))
    return references


def run_job_mode(module) -> dict:
    """The helper as a Job with the target image. In check mode the Job is sent as a server-side dry run: the
    databases are reachable only from the cluster, so the revisions cannot be read without running a Job (a
    warning says so and how to read them: plan_only)."""
    params = module.params
    namespace = params["namespace"]
    runner = job_runner(module, JobRun)
    secrets = runner.read_secrets(namespace, secret_references(params))
    module.hide(*secrets)
    token = new_run_token()
    name = job_name(params["job_name_prefix"], token)
    manifest = build_job_manifest(
        name, namespace, params["image"], token, params["tracking_uri_secret"], params["auth_uri_secret"],
        python_command=params["python_command"], connect_timeout=params["connect_timeout"],
        service_account_name=params["service_account_name"], resources=params["resources"],
        image_pull_policy=params["image_pull_policy"], extra_env=params["env"],
        auth_config_secret=params["auth_config_secret"], tracking_uri=params["tracking_uri"],
        action="plan" if params["plan_only"] else "run")
    runner.create(manifest)
    if module.check_mode:
        module.warn("In job mode the databases are only reachable from the cluster: check mode validated the Job %s "
                    "with a server-side dry run but cannot tell which revisions would run; run with plan_only=true "
                    "(a read-only Job) to read them." % name)
        return {"job_name": name, "tracking": None, "auth": None, "pending": None, "notes": []}
    finished, instance, elapsed = runner.wait(name, namespace, params["wait_timeout"], params["wait_sleep"])
    if not finished:
        raise MigrationFailed(
            "Job %s/%s did not finish within %s s; it is left running, because interrupting a migration is worse than "
            "waiting. Follow it with `kubectl -n %s logs -f job/%s`, delete it when it is done, then rerun this task "
            "(check mode) to read the revisions." % (namespace, name, elapsed, namespace, name),
            job_name=name, job_kept=True)
    state = job_state(instance)
    result = job_outcome(state, runner.pod_log(namespace, token), secrets)
    result["job_name"] = name
    result["job_kept"] = (state != "succeeded" or result["status"] != "ok") and params["keep_failed_job"]
    if not result["job_kept"]:
        runner.delete(name, namespace)
    if result["status"] != "ok":
        hint = " The Job is kept: `kubectl -n %s describe job/%s`." % (namespace, name) if result["job_kept"] else ""
        raise MigrationFailed.from_outcome(result, hint)
    return result
