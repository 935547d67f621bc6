"""Stand-in controllers: they write the status a real controller reaches once its work is done, and nothing runs.

- Deployment: available at the desired replicas (what `kubectl rollout status` and Helm's `--wait` read);
- Job: complete;
- CNPG Cluster: Ready (and ContinuousArchiving when a WAL-archiver plugin is configured), with the `<cluster>-app`
  secret and the `-rw`/`-ro`/`-r` services the operator creates;
- Build: Complete, pushing a digest to its ImageStream tag (the BuildConfig controller, which runs nothing, is the
  real one: a ConfigChange trigger starts one build when a BuildConfig is created);
- StatefulSet, DaemonSet: every pod ready at the desired count (one node: a DaemonSet schedules one pod);
- Route: admitted by the default router.

Backups, ScheduledBackups and ObjectStores are left alone: no stand-in pretends a backup exists (the real-process
controllers run barman-cloud for real).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .base import Controller, condition, now
from .build import BuildConfigController
from .deployments import paused_condition
from .statefulsets import revision_of
from .cnpg_objects import ensure_app_secret, ensure_services


class DeploymentStandIn(Controller):
    name = "deployment-controller"
    kind = ("apps/v1", "Deployment")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        spec, old = obj.get("spec") or {}, obj.get("status") or {}
        replicas = spec.get("replicas", 1)
        generation = obj["metadata"].get("generation", 1)
        conditions = old.get("conditions") or []
        progressing = (paused_condition(spec, conditions) if spec.get("paused") else None) or condition(
            "Progressing", True, "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.',
            previous=conditions)
        available = condition("Available", True, "MinimumReplicasAvailable", "Deployment has minimum availability.",
                              previous=conditions)
        status: dict[str, Any] = {"observedGeneration": generation, "conditions": [available, progressing]}
        if replicas:
            status.update(replicas=replicas, updatedReplicas=replicas, readyReplicas=replicas,
                          availableReplicas=replicas)
        if status != old:
            self.client.update_status(obj, status)
        return None


class JobStandIn(Controller):
    name = "job-controller"
    kind = ("batch/v1", "Job")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        spec, old = obj.get("spec") or {}, obj.get("status") or {}
        if spec.get("suspend"):
            status = {"conditions": [condition("Suspended", True, "JobSuspended", "Job suspended",
                                               previous=old.get("conditions"))]}
        elif any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                 for c in old.get("conditions") or []):
            return None
        else:
            stamp = now()
            status = {"startTime": old.get("startTime", stamp), "completionTime": stamp,
                      "succeeded": spec.get("completions", 1), "ready": 0, "terminating": 0,
                      "uncountedTerminatedPods": {},
                      "conditions": [condition("SuccessCriteriaMet", True, "CompletionsReached",
                                               "Reached expected number of succeeded pods"),
                                     condition("Complete", True, "CompletionsReached",
                                               "Reached expected number of succeeded pods")]}
        if status != old:
            self.client.update_status(obj, status)
        return None


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
