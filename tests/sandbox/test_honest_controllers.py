"""Controllers never report a success a real cluster would not: a Pod naming a missing ServiceAccount is refused
by the API server, so its Deployment is never Available and its Job never runs; an image that cannot be pulled
keeps the pods waiting; a command that fails fails its Job. With both controller sets: the real-process ones
(pods run for real) and the stand-ins (nothing runs; they foresee these three cases, sandbox/controllers/
standin_pods.py), through kubectl as a user would see it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.sandbox.cluster import SandboxCluster
from tests.sandbox.runtime_stack import wait_until

BOTH = [pytest.param("stand-in", id="stand-ins"), pytest.param("real", id="real", marks=pytest.mark.slow)]


@pytest.fixture(name="where", params=BOTH)
def fixture_where(request) -> Iterator[tuple[SandboxCluster, str]]:
    """A fresh namespace in the session's sandbox with the stand-ins or with the real-process controllers."""
    cluster = request.getfixturevalue("cluster" if request.param == "stand-in" else "real_cluster")
    name = f"hc-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    yield cluster, name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _apply(cluster: SandboxCluster, namespace: str, obj: dict, check: bool = True):
    return cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(obj), check=check)


def _deployment(name: str, image: str = "busybox:1.36", command: list[str] | None = None, **pod_spec) -> dict:
    container = {"name": "main", "image": image, "command": command or ["sleep", "3600"]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": 1, "containers": [container],
                                           **pod_spec}}}}


def _job(name: str, command: list[str], image: str = "busybox:1.36", **job_spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": image, "command": command}]}}, **job_spec}}


def _conditions(obj: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _rollout_times_out(cluster: SandboxCluster, namespace: str, name: str) -> None:
    """kubectl's DeploymentStatusViewer (staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go)
    never says "successfully rolled out": `rollout status` runs into its timeout."""
    result = cluster.kubectl("rollout", "status", f"deployment/{name}", "-n", namespace, "--timeout=5s",
                             check=False)
    assert result.returncode != 0
    assert "successfully rolled out" not in result.stdout
    assert "timed out" in result.stderr, result.stderr


def _job_never_completes(cluster: SandboxCluster, namespace: str, name: str) -> None:
    result = cluster.kubectl("wait", "--for=condition=complete", f"job/{name}", "-n", namespace, "--timeout=5s",
                             check=False)
    assert result.returncode != 0
    assert "timed out" in result.stderr, result.stderr
    assert "Complete" not in _conditions(cluster.get("job", name, "-n", namespace))


def test_a_pod_naming_a_missing_service_account_is_forbidden(cluster: SandboxCluster, namespace: str):
    """kube-apiserver's ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount/admission.go, Admit):
    `serviceAccountName` defaults to `default`; an account that does not exist is a 403 `Forbidden`
    "error looking up service account <ns>/<sa>: serviceaccount "<sa>" not found" (getServiceAccount's NotFound),
    for every client, dry runs included."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lonely"},
           "spec": {"serviceAccountName": "ghost",
                    "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"]}]}}
    for extra in ((), ("--dry-run=server",)):
        refused = cluster.kubectl("create", "-n", namespace, "-f", "-", *extra, stdin=json.dumps(pod), check=False)
        assert refused.returncode != 0
        assert "Error from server (Forbidden)" in refused.stderr, refused.stderr
        assert (f'pods "lonely" is forbidden: error looking up service account {namespace}/ghost: '
                'serviceaccount "ghost" not found') in refused.stderr
    pod["spec"].pop("serviceAccountName")
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(pod))
    created = cluster.get("pod", "lonely", "-n", namespace)
    assert created["spec"]["serviceAccountName"] == created["spec"]["serviceAccount"] == "default"


def test_a_deployment_whose_account_is_missing_is_never_available_until_it_exists(where):
    """The ReplicaSet controller cannot create the pod: its `ReplicaFailure` condition, reason `FailedCreate`,
    carries the API server's refusal (pkg/controller/replicaset/replica_set.go calculateStatus; the pods are
    created with generateName `<rs>-`), the Deployment copies it (pkg/controller/deployment/sync.go,
    getReplicaFailures) and is not Available. Once the account exists, the retried sync creates the pod and the
    failure goes."""
    cluster, namespace = where
    _apply(cluster, namespace, _deployment("web", serviceAccountName="web-sa"))
    deployment = wait_until(lambda: (d := cluster.get("deployment", "web", "-n", namespace)) and
                            "ReplicaFailure" in _conditions(d) and d, 30, "the ReplicaFailure condition")
    failure = _conditions(deployment)["ReplicaFailure"]
    assert (failure["status"], failure["reason"]) == ("True", "FailedCreate")
    assert failure["message"].startswith('pods "web-') and failure["message"].endswith(
        f'-" is forbidden: error looking up service account {namespace}/web-sa: serviceaccount "web-sa" not found')
    assert _conditions(deployment)["Available"]["status"] == "False"
    assert not deployment["status"].get("availableReplicas")
    _rollout_times_out(cluster, namespace, "web")
    if cluster.controllers == "real":
        replica_set = cluster.get("replicasets", "-n", namespace, "-l", "app=web")["items"][0]
        assert _conditions(replica_set)["ReplicaFailure"]["message"] == failure["message"]
        assert not cluster.get("pods", "-n", namespace, "-l", "app=web")["items"]
        events = cluster.get("events", "-n", namespace, "--field-selector", "reason=FailedCreate")["items"]
        assert any(e["message"] == f"Error creating: {failure['message']}" for e in events), events

    cluster.kubectl("create", "serviceaccount", "web-sa", "-n", namespace)
    if cluster.controllers == "real":
        cluster.kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=60s")
    else:
        wait_until(lambda: _conditions(cluster.get("deployment", "web", "-n", namespace))["Available"]["status"]
                   == "True", 30, "the Deployment to become Available")
    assert "ReplicaFailure" not in _conditions(cluster.get("deployment", "web", "-n", namespace))


def test_a_job_whose_account_is_missing_never_completes(where):
    """The Job controller's pod is refused: a `FailedCreate` event "Error creating: ..." on the Job
    (pkg/controller/job/job_controller.go through the pod control's recorder), no pod, no completion."""
    cluster, namespace = where
    job = _job("migrate", ["true"])
    job["spec"]["template"]["spec"]["serviceAccountName"] = "ghost"
    _apply(cluster, namespace, job)
    events = wait_until(lambda: cluster.get("events", "-n", namespace, "--field-selector",
                                            "involvedObject.name=migrate,reason=FailedCreate")["items"],
                        30, "the FailedCreate event")
    assert events[0]["type"] == "Warning" and events[0]["involvedObject"]["kind"] == "Job"
    assert events[0]["message"] == (f'Error creating: pods "migrate-" is forbidden: error looking up service account '
                                    f'{namespace}/ghost: serviceaccount "ghost" not found')
    _job_never_completes(cluster, namespace, "migrate")
    assert not cluster.get("pods", "-n", namespace, "-l", "job-name=migrate")["items"]


def test_an_image_that_cannot_be_pulled_keeps_the_deployment_unavailable(where):
    """The kubelet cannot pull the image: the container waits, `ErrImagePull` with the runtime's error, then
    `ImagePullBackOff` "Back-off pulling image "<image>": ErrImagePull: <error>" (pkg/kubelet/images/
    image_manager.go, EnsureImageExists); the pod is never Ready, so the Deployment is never Available (sync.go
    calculateStatus) and its rollout never finishes. The stand-ins go by the same decision (runtime/images.py)."""
    cluster, namespace = where
    image = "registry.example.com/nowhere:1.0"
    _apply(cluster, namespace, _deployment("pull", image=image))
    if cluster.controllers == "real":
        def waiting_reasons():
            pods = cluster.get("pods", "-n", namespace, "-l", "app=pull")["items"]
            statuses = pods[0].get("status", {}).get("containerStatuses") if pods else None
            waiting = statuses[0]["state"].get("waiting", {}) if statuses else {}
            seen.setdefault(waiting.get("reason"), waiting.get("message"))
            return "ErrImagePull" in seen and "ImagePullBackOff" in seen
        seen: dict = {}
        wait_until(waiting_reasons, 30, "ErrImagePull, then ImagePullBackOff")
        assert seen["ErrImagePull"].startswith(f'failed to pull image "{image}"')
        assert seen["ImagePullBackOff"] == f'Back-off pulling image "{image}": ErrImagePull: {seen["ErrImagePull"]}'
    deployment = wait_until(lambda: (d := cluster.get("deployment", "pull", "-n", namespace)) and
                            d["status"].get("updatedReplicas") == 1 and d, 30, "the pod to be created")
    assert _conditions(deployment)["Available"]["status"] == "False"
    assert deployment["status"]["unavailableReplicas"] == 1 and not deployment["status"].get("availableReplicas")
    _rollout_times_out(cluster, namespace, "pull")


def test_a_deployment_that_cannot_progress_exceeds_its_progress_deadline(where):
    """Nothing moves for `progressDeadlineSeconds`: `Progressing` False, `ProgressDeadlineExceeded`
    (pkg/controller/deployment/progress.go, DeploymentTimedOut), and `kubectl rollout status` gives up at once
    with "exceeded its progress deadline" (kubectl's DeploymentStatusViewer)."""
    cluster, namespace = where
    deployment = _deployment("stuck", image="registry.example.com/nowhere:1.0")
    deployment["spec"]["progressDeadlineSeconds"] = 2
    _apply(cluster, namespace, deployment)
    progressing = wait_until(lambda: (c := _conditions(cluster.get("deployment", "stuck", "-n", namespace))
                                      .get("Progressing", {})).get("status") == "False" and c, 60,
                             "the progress deadline to pass")
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert progressing["message"].startswith('ReplicaSet "stuck-') and progressing["message"].endswith(
        '" has timed out progressing.')
    result = cluster.kubectl("rollout", "status", "deployment/stuck", "-n", namespace, "--timeout=30s", check=False)
    assert result.returncode != 0 and 'deployment "stuck" exceeded its progress deadline' in result.stderr


def test_a_job_whose_image_cannot_be_pulled_stays_active_and_never_completes(where):
    """A Job's pod waiting for its image is active, never succeeded (job_controller.go): no completion."""
    cluster, namespace = where
    _apply(cluster, namespace, _job("unpulled", ["true"], image="registry.example.com/nowhere:1.0"))
    wait_until(lambda: cluster.get("job", "unpulled", "-n", namespace).get("status", {}).get("active") == 1, 30,
               "the Job to be active")
    _job_never_completes(cluster, namespace, "unpulled")


@pytest.mark.parametrize("restart_policy", ["Never", "OnFailure"])
def test_a_job_whose_command_fails_fails_with_backoff_limit_exceeded(where, restart_policy):
    """A command that exits non-zero: with `restartPolicy: Never` each failed pod counts, with `OnFailure` each
    restart of the container (job_controller.go, pastBackoffLimitOnFailure); past `backoffLimit` the Job is
    `Failed`, reason `BackoffLimitExceeded`, never Complete. The stand-ins know a command fails only by their
    narrow rule (`false`, `sh -c 'exit N'`), which this one meets."""
    cluster, namespace = where
    job = _job("crash", ["/bin/sh", "-c", "exit 3"], backoffLimit=1)
    job["spec"]["template"]["spec"]["restartPolicy"] = restart_policy
    _apply(cluster, namespace, job)
    cluster.kubectl("wait", "--for=condition=failed", "job/crash", "-n", namespace, "--timeout=60s")
    failed = cluster.get("job", "crash", "-n", namespace)
    conditions = _conditions(failed)
    assert conditions["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conditions["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert "Complete" not in conditions
    assert failed["status"]["failed"] == (2 if restart_policy == "Never" else 1)
    _job_never_completes(cluster, namespace, "crash")


@pytest.mark.parametrize("strategy", ["RollingUpdate", "Recreate"])
def test_a_crashing_deployment_is_never_available(where, strategy):
    """Pods whose command exits: CrashLoopBackOff (the kubelet restarts the container with a back-off), never
    Ready (the kubelet sees a container running only at its relist, pkg/kubelet/pleg/generic.go), so the
    Deployment is not Available, whatever its strategy (a Recreate Deployment may have no replica unavailable,
    pkg/controller/deployment/util/deployment_util.go MaxUnavailable); the stand-ins by their narrow rule."""
    cluster, namespace = where
    deployment = _deployment("crashy", command=["false"])
    deployment["spec"]["strategy"] = {"type": strategy}
    _apply(cluster, namespace, deployment)
    if cluster.controllers == "real":
        wait_until(lambda: any(s["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
                               for p in cluster.get("pods", "-n", namespace, "-l", "app=crashy")["items"]
                               for s in p.get("status", {}).get("containerStatuses") or []),
                   30, "the container to crash-loop")
    wait_until(lambda: cluster.get("deployment", "crashy", "-n", namespace)["status"].get("updatedReplicas") == 1,
               30, "the pod to be created")
    _rollout_times_out(cluster, namespace, "crashy")
    assert _conditions(cluster.get("deployment", "crashy", "-n", namespace))["Available"]["status"] == "False"


def test_the_stand_ins_still_report_success_for_what_they_cannot_tell_fails(cluster: SandboxCluster, namespace: str):
    """What the stand-ins cannot know is taken to succeed, as documented (standin_pods.py): a script that exits
    non-zero only after other commands is beyond their rule; a known image with a plain command completes."""
    _apply(cluster, namespace, _job("unknowable", ["/bin/sh", "-c", "echo no; exit 3"]))
    cluster.kubectl("wait", "--for=condition=complete", "job/unknowable", "-n", namespace, "--timeout=30s")
    _apply(cluster, namespace, _deployment("fine"))
    cluster.kubectl("rollout", "status", "deployment/fine", "-n", namespace, "--timeout=30s")
