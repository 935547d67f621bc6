"""Deployments: one ReplicaSet per pod template (named `<deployment>-<template hash>`), rolled as the
Deployment controller does it (RollingUpdate with maxSurge/maxUnavailable, or Recreate), and the status that
`kubectl rollout status`, `kubectl wait` and Helm's `--wait` read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math

from ..timestamps import seconds_since
from .base import Controller, condition, now
from .util import owned_by, owner_ref, without_zeros, write_status

REVISION = "deployment.kubernetes.io/revision"


def template_hash(template: dict) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return "".join(c for c in digest if c in "bcdfghjklmnpqrstvwxz2456789")[:10] or digest[:10]


def paused_condition(spec: dict, previous: list) -> dict | None:
    """The Progressing condition of a paused (or just resumed) Deployment, as the deployment controller's
    checkPausedConditions (pkg/controller/deployment/progress.go) writes it: status Unknown, DeploymentPaused
    "Deployment is paused"; once resumed, DeploymentResumed "Deployment is resumed" until progress is seen.
    None when neither applies (or the deadline was reported exceeded: that is not overwritten)."""
    before = next((c for c in previous or [] if c.get("type") == "Progressing"), {})
    if before.get("reason") == "ProgressDeadlineExceeded":
        return None
    if spec.get("paused"):
        found = condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", previous=previous)
    elif before.get("reason") == "DeploymentPaused":
        found = condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed",
                          previous=previous)
    else:
        return None
    found["lastUpdateTime"] = before.get("lastUpdateTime") if before.get("reason") == found["reason"] else now()
    return found


def _amount(value, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def fenceposts(spec: dict) -> tuple[int, int]:
    """maxSurge and maxUnavailable of a rolling update as numbers (deployment_util.go, ResolveFenceposts)."""
    replicas = spec.get("replicas", 1)
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = _amount(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = _amount(rolling.get("maxUnavailable", "25%"), replicas, False)
    return surge, 1 if surge == 0 and unavailable == 0 else unavailable


def max_unavailable(spec: dict) -> int:
    """How many replicas may be unavailable with the Deployment still `Available` (deployment_util.go,
    MaxUnavailable): none for Recreate (or 0 replicas), else the rolling update's maxUnavailable."""
    replicas = spec.get("replicas", 1)
    if (spec.get("strategy") or {}).get("type") == "Recreate" or not replicas:
        return 0
    return min(fenceposts(spec)[1], replicas)


class DeploymentController(Controller):
    name = "deployment-controller"
    kind = ("apps/v1", "Deployment")
    owns = (("apps/v1", "ReplicaSet"),)

    def reconcile(self, obj, namespace, name):  # pylint: disable=too-many-locals
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return None
        spec = obj.get("spec") or {}
        replicas = spec.get("replicas", 1)
        uid = obj["metadata"]["uid"]
        sets = [rs for rs in self.client.list("apps/v1", "ReplicaSet", namespace) if owned_by(rs, uid)]
        wanted_hash = template_hash(spec.get("template") or {})
        new = next((rs for rs in sets if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == wanted_hash),
                   None)
        revisions = [int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in sets]
        if new is None:
            new = self._create_set(obj, wanted_hash, max(revisions, default=0) + 1)
            sets.append(new)
        elif int((new["metadata"].get("annotations") or {}).get(REVISION, "0")) < max(revisions, default=0):
            new["metadata"].setdefault("annotations", {})[REVISION] = str(max(revisions) + 1)  # a rollback
            new = self.client.update(new)
        olds = sorted((rs for rs in sets if rs["metadata"]["uid"] != new["metadata"]["uid"]),
                      key=lambda rs: rs["metadata"].get("creationTimestamp", ""))
        strategy = spec.get("strategy") or {}
        surge, unavailable = fenceposts(spec)
        if not spec.get("paused"):
            if strategy.get("type") == "Recreate":
                self._recreate(new, olds, replicas)
            else:
                self._roll(new, olds, replicas, surge, unavailable)
        return self._status(obj, new, olds, replicas)

    def _create_set(self, deployment, pod_hash, revision):
        template = copy.deepcopy((deployment.get("spec") or {}).get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
        selector = copy.deepcopy((deployment.get("spec") or {}).get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        name = deployment["metadata"]["name"]
        replica_set = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{name}-{pod_hash}", "namespace": deployment["metadata"]["namespace"],
                         "labels": dict(template["metadata"]["labels"]),
                         "annotations": {REVISION: str(revision),
                                         "deployment.kubernetes.io/desired-replicas":
                                         str((deployment.get("spec") or {}).get("replicas", 1))},
                         "ownerReferences": [owner_ref(deployment)]},
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        return self.client.create(replica_set)

    def _scale(self, replica_set, count):
        if (replica_set.get("spec") or {}).get("replicas", 1) == count:
            return replica_set
        replica_set = copy.deepcopy(replica_set)
        replica_set["spec"]["replicas"] = count
        return self.client.update(replica_set)

    def _recreate(self, new, olds, replicas):
        for old in olds:
            self._scale(old, 0)
        if all(not (old.get("status") or {}).get("replicas") for old in olds):
            self._scale(new, replicas)

    def _roll(self, new, olds, replicas, surge, unavailable):
        new_count = new["spec"].get("replicas", 0)
        old_counts = [old["spec"].get("replicas", 0) for old in olds]
        if new_count > replicas:
            new_count = replicas
        elif new_count < replicas:
            room = replicas + surge - new_count - sum(old_counts)
            new_count += max(0, min(replicas - new_count, room))
        self._scale(new, new_count)
        # Old pods that are not ready can go at once; ready ones only while enough pods stay available.
        ready_total = (new.get("status") or {}).get("availableReplicas", 0) + \
            sum((old.get("status") or {}).get("availableReplicas", 0) for old in olds)
        removable = max(0, ready_total - (replicas - unavailable))
        for old, count in zip(olds, old_counts):
            ready = (old.get("status") or {}).get("availableReplicas", 0)
            cut = max(0, count - ready)
            healthy_cut = min(count - cut, removable)
            removable -= healthy_cut
            self._scale(old, count - cut - healthy_cut)

    def _status(self, deployment, new, olds, replicas):
        def count(rs, key):
            return (rs.get("status") or {}).get(key, 0)
        every = [new] + olds
        available = sum(count(rs, "availableReplicas") for rs in every)
        counters = {"replicas": sum(count(rs, "replicas") for rs in every), "updatedReplicas": count(new, "replicas"),
                    "readyReplicas": sum(count(rs, "readyReplicas") for rs in every),
                    "availableReplicas": available, "unavailableReplicas": max(0, replicas - available)}
        complete = counters["updatedReplicas"] == replicas and counters["replicas"] == replicas and \
            count(new, "availableReplicas") == replicas
        # The new ReplicaSet's failure first, else an old one's (sync.go, getReplicaFailures).
        failure = next((c for rs in every for c in (rs.get("status") or {}).get("conditions") or []
                        if c.get("type") == "ReplicaFailure"), None)
        status = rollout_status(deployment, new["metadata"]["name"], counters, complete, failure)
        write_status(self.client, deployment, status)
        return None if complete else 5.0


def rollout_status(deployment: dict, rs_name: str, counters: dict, complete: bool,  # pylint: disable=too-many-locals
                   failure: dict | None = None) -> dict:
    """The status the deployment controller writes from its ReplicaSets' `counters` (sync.go calculateStatus and
    syncRolloutStatus, progress.go): `Available` once enough replicas are available, `Progressing` (complete,
    progressing, or ProgressDeadlineExceeded once nothing moved for `progressDeadlineSeconds`), and a
    ReplicaSet's `ReplicaFailure` condition copied (ReplicaSetToDeploymentCondition)."""
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    old_status = deployment.get("status") or {}
    previous = old_status.get("conditions") or []
    progressing_before = next((c for c in previous if c.get("type") == "Progressing"), {})
    moved = any(old_status.get(k, 0) != v for k, v in counters.items())
    deadline = (deployment.get("spec") or {}).get("progressDeadlineSeconds", 600)
    since_update = seconds_since(progressing_before["lastUpdateTime"]) if progressing_before.get("lastUpdateTime") \
        else 0
    paused = paused_condition(deployment.get("spec") or {}, previous)
    if paused is not None and (deployment.get("spec") or {}).get("paused"):
        progressing = paused  # no progress is judged while paused (the deadline does not run)
    elif complete:
        progressing = condition("Progressing", True, "NewReplicaSetAvailable",
                                f'ReplicaSet "{rs_name}" has successfully progressed.', previous=previous)
    elif not moved and (progressing_before.get("reason") == "ProgressDeadlineExceeded" or since_update > deadline):
        # Timed out, it stays so until progress is made (deployment_util.go, DeploymentTimedOut).
        progressing = condition("Progressing", False, "ProgressDeadlineExceeded",
                                f'ReplicaSet "{rs_name}" has timed out progressing.', previous=previous)
    else:
        progressing = condition("Progressing", True, "ReplicaSetUpdated",
                                f'ReplicaSet "{rs_name}" is progressing.', previous=previous)
    if moved or progressing_before.get("reason") != progressing.get("reason") or \
            not progressing_before.get("lastUpdateTime"):
        progressing["lastUpdateTime"] = now()
    else:
        progressing["lastUpdateTime"] = progressing_before["lastUpdateTime"]
    is_available = counters["availableReplicas"] >= replicas - max_unavailable(deployment.get("spec") or {})
    available_condition = condition(
        "Available", is_available, "MinimumReplicasAvailable" if is_available else "MinimumReplicasUnavailable",
        "Deployment has minimum availability." if is_available else
        "Deployment does not have minimum availability.", previous=previous)
    available_condition["lastUpdateTime"] = available_condition["lastTransitionTime"]
    conditions = [available_condition, progressing]
    if failure is not None:
        conditions.append({"type": "ReplicaFailure", "status": failure["status"], "reason": failure.get("reason", ""),
                           "message": failure.get("message", ""), "lastTransitionTime": failure["lastTransitionTime"],
                           "lastUpdateTime": failure["lastTransitionTime"]})
    return without_zeros(dict(counters, observedGeneration=deployment["metadata"].get("generation", 1),
                              conditions=conditions), tuple(counters))
