"""Stand-in controllers: they write the status a real controller reaches once its work is done, and nothing runs.

- Deployment: available at the desired replicas (what `kubectl rollout status` and Helm's `--wait` read);
- Job: complete;
  both unless the stand-ins can tell the pods would not get there (standin_pods.py: a pod the API server refuses,
  an image the sandbox cannot pull, a command that plainly fails): then what a real cluster reports instead, and a
  look again every few seconds (an account created, a Build that pushed the tag);
- CNPG Cluster: Ready (and ContinuousArchiving when a WAL-archiver plugin is configured), with the `<cluster>-app`
  secret and the `-rw`/`-ro`/`-r` services the operator creates;
- Build: Complete, pushing a digest to its ImageStream tag, once that ImageStream exists (New,
  InvalidOutputReference until then, as OpenShift); the BuildConfig controller, which runs nothing, is the real
  one: a ConfigChange trigger starts one build when a BuildConfig is created;
- StatefulSet, DaemonSet: every pod ready at the desired count (one node: a DaemonSet schedules one pod);
- Route: admitted by the default router.

Backups, ScheduledBackups and ObjectStores are left alone: no stand-in pretends a backup exists (the real-process
controllers run barman-cloud for real).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..timestamps import seconds_since
from . import events
from .base import Controller, condition, now
from .build import BuildConfigController, waits_for_output_stream
from .deployments import rollout_status, template_hash
from .statefulsets import revision_of
from .cnpg_objects import ensure_app_secret, ensure_services
from .standin_pods import foresee
from .util import write_status

RECHECK = 2.0  # seconds between looks at a workload whose pods would not succeed


class DeploymentStandIn(Controller):
    """The status the deployment controller reaches once its ReplicaSet's pods are ready, unless the stand-ins can
    tell they would not be (standin_pods.py): then the status a real cluster shows meanwhile, never Available."""

    name = "deployment-controller"
    kind = ("apps/v1", "Deployment")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        spec = obj.get("spec") or {}
        replicas = spec.get("replicas", 1)
        rs_name = f"{name}-{template_hash(spec.get('template') or {})}"
        foreseen = foresee(self.client, obj, f"{rs_name}-") if replicas else None
        failure = None
        if foreseen is None:  # every replica ready and available
            counters = dict.fromkeys(("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"),
                                     replicas)
        elif foreseen.outcome == "refused":  # no pod could be created: the ReplicaSet's FailedCreate
            counters = {}
            failure = condition("ReplicaFailure", True, "FailedCreate", foreseen.message,
                                previous=(obj.get("status") or {}).get("conditions"))
        else:  # pods that never become ready (ImagePullBackOff, CrashLoopBackOff)
            counters = {"replicas": replicas, "updatedReplicas": replicas}
        counters = {key: counters.get(key, 0) for key in ("replicas", "updatedReplicas", "readyReplicas",
                                                          "availableReplicas")}
        counters["unavailableReplicas"] = replicas - counters["availableReplicas"]
        status = rollout_status(obj, rs_name, counters, foreseen is None, failure)
        write_status(self.client, obj, status)
        return None if foreseen is None else RECHECK


class JobStandIn(Controller):
    """A Job complete at once, unless the stand-ins can tell its pods would not succeed (standin_pods.py): a pod
    the API server refuses is a `FailedCreate` event and no pod; an image that cannot be pulled keeps the Job
    active (until `activeDeadlineSeconds`); a command that fails fails the Job with BackoffLimitExceeded, as
    `backoffLimit + 1` failed pods (restartPolicy Never) or a crash-looping one (OnFailure) would."""

    name = "job-controller"
    kind = ("batch/v1", "Job")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        spec, old = obj.get("spec") or {}, obj.get("status") or {}
        if spec.get("suspend"):
            status = {"conditions": [condition("Suspended", True, "JobSuspended", "Job suspended",
                                               previous=old.get("conditions"))]}
            write_status(self.client, obj, status)
            return None
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in old.get("conditions") or []):
            return None
        stamp = now()
        status = {"startTime": old.get("startTime", stamp), "ready": 0, "terminating": 0,
                  "uncountedTerminatedPods": {}}
        foreseen = foresee(self.client, obj, f"{name}-")
        deadline = spec.get("activeDeadlineSeconds")
        if foreseen is None:
            status.update(completionTime=stamp, succeeded=spec.get("completions", 1), conditions=_finished(
                "Complete", "CompletionsReached", "Reached expected number of succeeded pods"))
        elif foreseen.outcome == "crashes":
            on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure"
            status.update(failed=1 if on_failure else spec.get("backoffLimit", 6) + 1, conditions=_finished(
                "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"))
        else:  # no pod (refused), or pods waiting for their image
            pods = 0 if foreseen.outcome == "refused" else _parallel(spec)
            if deadline is not None and seconds_since(status["startTime"]) > deadline:
                status.update(failed=pods, conditions=_finished(
                    "Failed", "DeadlineExceeded", "Job was active longer than specified deadline"))
            elif pods:
                status["active"] = pods
            else:
                events.record(self.client, obj, "Warning", "FailedCreate", f"Error creating: {foreseen.message}")
        write_status(self.client, obj, status)
        return None if "conditions" in status else RECHECK


def _parallel(spec: dict[str, Any]) -> int:
    return min(spec.get("parallelism", 1), spec.get("completions", 1))


def _finished(kind: str, reason: str, message: str) -> list[dict[str, Any]]:
    """A finished Job's conditions: the target (SuccessCriteriaMet, FailureTarget), then Complete or Failed."""
    target = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
    return [condition(target, True, reason, message), condition(kind, True, reason, message)]


class ClusterStandIn(Controller):
    """A CNPG Cluster that is ready at once; its app secret and services are created like the operator does."""

    name = "cnpg-operator"
    kind = ("postgresql.cnpg.io/v1", "Cluster")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        spec, old = obj.get("spec") or {}, obj.get("status") or {}
        ensure_services(self.client, obj)
        ensure_app_secret(self.client, obj)
        instances = spec.get("instances", 1)
        conditions = old.get("conditions") or []
        found = [condition("Ready", True, "ClusterIsReady", "Cluster is Ready", previous=conditions)]
        if any(p.get("isWALArchiver") for p in spec.get("plugins") or []):
            found.append(condition("ContinuousArchiving", True, "ContinuousArchivingSuccess",
                                   "Continuous archiving is working", previous=conditions))
        names = [f"{name}-{i}" for i in range(1, instances + 1)]
        status = dict(old)
        status.update({
            "phase": "Cluster in healthy state", "instances": instances, "readyInstances": instances,
            "instanceNames": names, "currentPrimary": names[0] if names else "", "targetPrimary": names[0] if names
            else "", "writeService": f"{name}-rw", "readService": f"{name}-r", "latestGeneratedNode": instances,
            "conditions": found, "instancesStatus": {"healthy": names},
            "selector": f"cnpg.io/cluster={name}",
        })
        if status != old:
            self.client.update_status(obj, status)
        return None


class BuildStandIn(Controller):
    """A Build that completes at once and tags its output image in the ImageStream."""

    name = "build-controller"
    kind = ("build.openshift.io/v1", "Build")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        old = obj.get("status") or {}
        if old.get("phase") in ("Complete", "Failed", "Error", "Cancelled"):
            return None
        if waits_for_output_stream(self.client, obj):
            return RECHECK
        old = {k: v for k, v in old.items() if k not in ("reason", "message")}
        digest = "sha256:" + hashlib.sha256(f"{namespace}/{name}/{obj['metadata']['uid']}".encode()).hexdigest()
        target = ((obj.get("spec") or {}).get("output") or {}).get("to") or {}
        stamp = now()
        status = dict(old, phase="Complete", startTimestamp=old.get("startTimestamp", stamp),
                      completionTimestamp=stamp, duration=0,
                      output={"to": {"imageDigest": digest}},
                      conditions=[condition("Complete", True, "", "", previous=old.get("conditions"))])
        if target.get("kind") == "ImageStreamTag":
            status["outputDockerImageReference"] = self._tag(namespace, target, digest)
        self.client.update_status(obj, status)
        return None

    def _tag(self, namespace: str, target: dict[str, Any], digest: str) -> str:
        stream_name, tag = (target.get("name", "").split(":", 1) + [""])[:2]
        stream_namespace = target.get("namespace") or namespace
        repository = f"image-registry.openshift-image-registry.svc:5000/{stream_namespace}/{stream_name}"
        stream = self.client.get("image.openshift.io/v1", "ImageStream", stream_namespace, stream_name)
        if stream is None:
            return f"{repository}:{tag or 'latest'}"
        status = dict(stream.get("status") or {}, dockerImageRepository=repository)
        tags = [t for t in status.get("tags") or [] if t.get("tag") != (tag or "latest")]
        tags.append({"tag": tag or "latest", "items": [{"created": now(), "dockerImageReference":
                                                        f"{repository}@{digest}", "image": digest,
                                                        "generation": stream["metadata"].get("generation", 1)}]})
        status["tags"] = tags
        self.client.update_status(stream, status)
        return f"{repository}:{tag or 'latest'}"


class StatefulSetStandIn(Controller):
    name = "statefulset-controller"
    kind = ("apps/v1", "StatefulSet")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        replicas = (obj.get("spec") or {}).get("replicas", 1)
        revision = revision_of(obj)
        status = {"observedGeneration": obj["metadata"].get("generation", 1), "replicas": replicas,
                  "availableReplicas": replicas, "currentRevision": revision, "updateRevision": revision,
                  "collisionCount": 0}
        if replicas:
            status.update(readyReplicas=replicas, currentReplicas=replicas, updatedReplicas=replicas)
        if status != obj.get("status"):
            self.client.update_status(obj, status)
        return None


class DaemonSetStandIn(Controller):
    name = "daemonset-controller"
    kind = ("apps/v1", "DaemonSet")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        status = {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberMisscheduled": 0,
                  "numberReady": 1, "numberAvailable": 1, "updatedNumberScheduled": 1,
                  "observedGeneration": obj["metadata"].get("generation", 1)}
        if status != obj.get("status"):
            self.client.update_status(obj, status)
        return None


class RouteStandIn(Controller):
    name = "openshift-router"
    kind = ("route.openshift.io/v1", "Route")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        host = (obj.get("spec") or {}).get("host", "")
        old = obj.get("status") or {}
        earlier = (old.get("ingress") or [{}])[0].get("conditions")
        status = {"ingress": [{"host": host, "routerName": "default", "wildcardPolicy": "None",
                               "routerCanonicalHostname": "router-default.apps.sandbox.local",
                               "conditions": [condition("Admitted", True, "", "", previous=earlier)]}]}
        if status != old:
            self.client.update_status(obj, status)
        return None


STAND_INS = (DeploymentStandIn, JobStandIn, ClusterStandIn, BuildConfigController, BuildStandIn, RouteStandIn,
             StatefulSetStandIn, DaemonSetStandIn)
