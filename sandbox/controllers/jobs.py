"""Jobs: Pods until `completions` succeed or more than `backoffLimit` fail; `activeDeadlineSeconds`; suspend.
Job pods carry the `job-name`/`batch.kubernetes.io/job-name` labels and the Job as controller owner, so
`kubectl logs job/<name>` and label selectors find them.

As pkg/controller/job/job_controller.go: a Pod the API server refuses (e.g. its ServiceAccount does not exist) is a
`FailedCreate` event "Error creating: <error>" and another try later, the Job staying active without pods; with
`restartPolicy: OnFailure` the containers' restarts count against `backoffLimit` (pastBackoffLimitOnFailure), so a
crash-looping pod fails the Job as failed pods do."""

from __future__ import annotations

import copy

from ..timestamps import seconds_since
from . import events
from .base import Controller, condition, now
from .client import ApiError
from .util import owner_ref, pod_ready, without_zeros, write_status

RETRY_FAILED_CREATE = 2.0  # seconds; the real controller re-queues with a rate-limited back-off


class JobController(Controller):
    name = "job-controller"
    kind = ("batch/v1", "Job")
    owns = (("v1", "Pod"),)

    def reconcile(self, obj, namespace, name):  # pylint: disable=too-many-locals,too-many-branches
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        spec, old = obj.get("spec") or {}, obj.get("status") or {}
        previous = old.get("conditions") or []
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in previous):
            return None
        uid = obj["metadata"]["uid"]
        pods = self.client.list("v1", "Pod", namespace, f"batch.kubernetes.io/controller-uid={uid}")
        active = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                  and not p["metadata"].get("deletionTimestamp")]
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        status = {"startTime": old.get("startTime") or now(), "uncountedTerminatedPods": {}, "terminating": 0}
        if spec.get("suspend"):
            for pod in active:
                self.client.delete("v1", "Pod", namespace, pod["metadata"]["name"])
            status = {"conditions": [condition("Suspended", True, "JobSuspended", "Job suspended",
                                               previous=previous)]}
            write_status(self.client, obj, status)
            return None
        completions = spec.get("completions", 1)
        parallelism = spec.get("parallelism", 1)
        deadline = spec.get("activeDeadlineSeconds")
        verdict = None
        if succeeded >= completions:
            verdict = ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")
        elif failed > spec.get("backoffLimit", 6) or past_backoff_limit_on_failure(spec, active):
            verdict = ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif deadline is not None and seconds_since(status["startTime"]) > deadline:
            verdict = ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
        if verdict is not None:
            for pod in active:
                self.client.delete("v1", "Pod", namespace, pod["metadata"]["name"])
            kind, reason, message = verdict
            target = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            status["conditions"] = [condition(target, True, reason, message), condition(kind, True, reason, message)]
            if kind == "Complete":
                status["completionTime"] = now()
            else:
                failed += len(active)  # the deleted active pods count as failed (syncJob: failed += active)
            active = []
        refused = False
        if verdict is None:
            for _ in range(max(0, min(parallelism, completions - succeeded) - len(active))):
                try:
                    active.append(self._create_pod(obj))
                except ApiError as error:
                    events.record(self.client, obj, "Warning", "FailedCreate", f"Error creating: {error.message}")
                    refused = True
                    break
        status.update(active=len(active), succeeded=succeeded, failed=failed,
                      ready=sum(1 for p in active if pod_ready(p)))
        write_status(self.client, obj, without_zeros(status, ("active", "succeeded", "failed")))
        if refused:
            return RETRY_FAILED_CREATE
        if verdict is None and deadline is not None:
            return 2.0
        return None

    def _create_pod(self, job):
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        meta = template.get("metadata") or {}
        name = job["metadata"]["name"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"generateName": f"{name}-", "namespace": job["metadata"]["namespace"],
                            "labels": meta.get("labels") or {}, "ownerReferences": [owner_ref(job)]},
               "spec": template.get("spec") or {}}
        if meta.get("annotations"):
            pod["metadata"]["annotations"] = meta["annotations"]
        return self.client.create(pod)


def past_backoff_limit_on_failure(spec: dict, active: list[dict]) -> bool:
    """With `restartPolicy: OnFailure` the restarts of the active pods' containers count as failures: their sum
    reaching `backoffLimit` (passing 0) fails the Job (job_controller.go, pastBackoffLimitOnFailure)."""
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(status.get("restartCount", 0) for pod in active
                   for status in (pod.get("status") or {}).get("containerStatuses") or [])
    limit = spec.get("backoffLimit", 6)
    return restarts > 0 if limit == 0 else restarts >= limit
