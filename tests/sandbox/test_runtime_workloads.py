"""Workloads with real processes behind them: graceful Pod deletion by the node's kubelet, StatefulSet pods in
order, a DaemonSet's pod on the one node (kubectl against a sandbox running its real controllers)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.sandbox.cluster import SandboxCluster
from tests.sandbox.runtime_stack import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(name="ns")
def fixture_ns(real_cluster: SandboxCluster) -> Iterator[str]:
    name = f"wl-{uuid.uuid4().hex[:6]}"
    real_cluster.kubectl("create", "namespace", name)
    yield name
    real_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_a_deleted_pod_terminates_for_its_grace_period_then_goes(real_cluster: SandboxCluster, ns: str):
    """kube-apiserver podStrategy.CheckGracefulDelete (pkg/registry/core/pod/strategy.go): a pod bound to a node
    gets deletionTimestamp = now + grace and stays; the kubelet stops the container (SIGTERM, SIGKILL after the
    grace period) and deletes it with grace 0. Bound by the scheduler's `pods/binding` (spec.nodeName)."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stubborn"},
           "spec": {"terminationGracePeriodSeconds": 3,
                    "containers": [{"name": "c", "image": "busybox:1.36",
                                    "command": ["/bin/sh", "-c", "trap '' TERM; sleep 3600"]}]}}
    real_cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(pod))
    running = wait_until(lambda: (p := real_cluster.get("pod", "stubborn", "-n", ns)).get("status", {})
                         .get("phase") == "Running" and p, 60, "the pod to run")
    assert running["spec"]["nodeName"] == "sandbox"
    started = time.monotonic()
    real_cluster.kubectl("delete", "pod", "stubborn", "-n", ns, "--wait=false")
    terminating = real_cluster.get("pod", "stubborn", "-n", ns)
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 3
    assert terminating["metadata"]["deletionTimestamp"]
    real_cluster.kubectl("wait", "--for=delete", "pod/stubborn", "-n", ns, "--timeout=30s")
    assert 2.0 <= time.monotonic() - started < 15


def test_statefulset_pods_come_in_order_and_roll_from_the_highest(real_cluster: SandboxCluster, ns: str):
    """pkg/controller/statefulset: OrderedReady creates <name>-0, then -1 once -0 is ready; a template change
    replaces pods from the highest ordinal down; the status revisions meet when done. A DaemonSet runs one pod on
    the node (pkg/controller/daemon)."""
    template = {"metadata": {"labels": {"app": "db"}},
                "spec": {"terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": template}}
    real_cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(sts))
    real_cluster.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=60s")
    pods = {p["metadata"]["name"]: p for p in real_cluster.get("pods", "-n", ns, "-l", "app=db")["items"]}
    assert sorted(pods) == ["db-0", "db-1"]
    assert pods["db-0"]["metadata"]["creationTimestamp"] <= pods["db-1"]["metadata"]["creationTimestamp"]
    assert pods["db-1"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    before = real_cluster.get("sts", "db", "-n", ns)["status"]["updateRevision"]
    real_cluster.kubectl("patch", "sts", "db", "-n", ns, "--type=merge",
                         "-p", '{"spec":{"template":{"metadata":{"annotations":{"v":"2"}}}}}')
    real_cluster.kubectl("rollout", "status", "statefulset/db", "-n", ns, "--timeout=60s")
    status = real_cluster.get("sts", "db", "-n", ns)["status"]
    assert status["updateRevision"] != before and status["currentRevision"] == status["updateRevision"]
    assert status["updatedReplicas"] == status["readyReplicas"] == 2
    daemon = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
              "spec": {"selector": {"matchLabels": {"app": "agent"}},
                       "template": json.loads(json.dumps(template).replace('"db"', '"agent"'))}}
    real_cluster.kubectl("apply", "-n", ns, "-f", "-", stdin=json.dumps(daemon))
    real_cluster.kubectl("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s")
    assert len(real_cluster.get("pods", "-n", ns, "-l", "app=agent")["items"]) == 1
