# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A short-lived Job that runs this collection's Python in an image of the cluster (the migration helper, the
backup catalog reader): its name, the restricted pod it runs in, and its run through kubernetes.core.

`KubernetesJob` is a thin adapter over kubernetes.core's client, service and waiter (so AWX credential injection,
server-side dry runs in check mode and kubeconfig redaction work as in every kubernetes.core module).
"""

from __future__ import annotations

import re
import uuid

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.service import K8sService
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.waiter import Waiter, job_complete
except ImportError:  # the module's client reports the missing kubernetes library first
    pass

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "mlops.mlflow"

# Job names become the `job-name` label of their pods: a DNS-1123 label, at most 63 characters.
MAX_NAME_LENGTH = 63
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class JobError(CollectionError):
    """A Job problem the operator can act on (bad input, a missing Secret, a Job that did not finish)."""


def new_run_token() -> str:
    return uuid.uuid4().hex[:8]


def job_name(prefix: str, token: str) -> str:
    """`<prefix>-<token>`, the prefix shortened so that the name stays a valid 63-character label."""
    if not _DNS_LABEL.match(token):
        raise JobError("run token %r is not a DNS-1123 label" % token)
    prefix = prefix[:MAX_NAME_LENGTH - len(token) - 1].rstrip("-")
    name = "%s-%s" % (prefix, token)
    if not prefix or not _DNS_LABEL.match(name):
        raise JobError("job_name_prefix %r does not make a valid Job name (%r): use lower-case letters, digits and "
                       "'-', starting with a letter or digit" % (prefix, name))
    return name


def secret_env(variable: str, reference: dict) -> dict:
    """An environment variable read from a Secret's key (`reference`: name and key), never a value in the manifest."""
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": reference["name"], "key": reference["key"]}}}


def restricted_job(name: str, namespace: str, labels: dict, container: dict, volumes: list,
                   service_account_name: str | None = None) -> dict:
    """One attempt (`backoffLimit: 0`, `restartPolicy: Never`) of a container that passes OpenShift's
    restricted-v2 SCC and the `restricted` Pod Security Standard: no fixed UID, no capabilities, no privilege
    escalation, the RuntimeDefault seccomp profile."""
    container = dict(container, securityContext={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}})
    pod_spec = {
        "restartPolicy": "Never",
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": volumes,
    }
    if service_account_name:
        pod_spec["serviceAccountName"] = service_account_name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": labels}, "spec": pod_spec}},
    }


def job_state(job: dict | None) -> str:
    """"succeeded", "failed" or "running" from a Job's status conditions."""
    conditions = ((job or {}).get("status") or {}).get("conditions") or []
    for condition in conditions:
        if str(condition.get("status")).lower() != "true":
            continue
        if condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "succeeded"
        if condition.get("type") in ("Failed", "FailureTarget"):
            return "failed"
    return "running"


class KubernetesJob:
    """Create the Job, wait for it, read its pod's log, clean up; all through kubernetes.core."""

    def __init__(self, client, service, waiter_factory, module):
        self.client = client
        self.service = service
        self.waiter_factory = waiter_factory
        self.module = module

    def _resource(self, kind: str, api_version: str):
        return self.service.find_resource(kind, api_version, fail=True)

    def create(self, manifest: dict) -> dict:
        created, warnings = self.service.create(self._resource("Job", "batch/v1"), manifest)
        for warning in warnings or []:
            self.module.warn(warning)
        return created

    def wait(self, name: str, namespace: str, timeout: int, sleep: int) -> tuple:
        jobs = self._resource("Job", "batch/v1")
        finished, instance, elapsed = self.waiter_factory(self.client, jobs).wait(
            timeout=timeout, sleep=sleep, name=name, namespace=namespace)
        return finished, instance, elapsed

    def run_log(self, namespace: str, label_selector: str) -> str:
        """The log of the newest pod the selector finds (empty when there is none)."""
        pods_resource = self._resource("Pod", "v1")
        pods = self.client.get(pods_resource, namespace=namespace, label_selector=label_selector).to_dict()
        items = sorted(pods.get("items") or [], key=lambda pod: pod["metadata"].get("creationTimestamp") or "")
        if not items:
            return ""
        response = pods_resource.log.get(name=items[-1]["metadata"]["name"], namespace=namespace, serialize=False)
        data = response.data
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)

    def delete(self, name: str, namespace: str) -> None:
        # Background propagation removes the Job's pod too.
        self.client.delete(self._resource("Job", "batch/v1"), name=name, namespace=namespace,
                           body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"})


def job_runner(module, runner_class=KubernetesJob):
    """A KubernetesJob (or subclass) on the module's client, with kubernetes.core's service and Job waiter."""
    return runner_class(module.client, K8sService(module.client, module),
                        lambda api, resource: Waiter(api, resource, job_complete), module)
