"""A CNPG Cluster with `instances: 3` in the sandbox: three real PostgreSQL servers, a primary and two standbys
streaming from it, the Services and status CNPG gives them; a failover when the primary's pod is deleted; a scale
down that removes the replica with the highest serial and a scale up that takes a new serial.

What is copied, from CloudNativePG's source:
- instances `<cluster>-<serial>`, serials from `status.latestGeneratedNode` (internal/controller/cluster_create.go,
  generateNodeSerial); replicas cloned with pg_basebackup through `<cluster>-rw` as `streaming_replica`
  (pkg/management/postgres/join.go), streaming with `primary_conninfo` naming `-rw` and `application_name` the pod
  (conninfo.go), `recovery_target_timeline = latest` (configuration.go);
- the Services' selectors (pkg/specs/services.go): -rw `cnpg.io/instanceRole: primary`, -ro `replica`, -r every
  instance; the role labels `cnpg.io/instanceRole` and `role` on the pods;
- failover (internal/controller/replicas.go, reconcileTargetPrimaryForNonReplicaCluster): phase "Failing over"
  (api/v1/cluster_types.go PhaseFailOver), `targetPrimary` first `pending` (PendingFailoverMarker), then the most
  advanced replica (pkg/postgres/status.go, PostgresqlStatusList.Less), which promotes and becomes
  `currentPrimary`; the Ready condition comes back with the healthy phase only
  (pkg/resources/status/transactions.go, SetClusterReadyCondition);
- scale down removes the ready replica with the highest serial, never the primary (replicas.go,
  findDeletableInstance).
"""

from __future__ import annotations

import threading
import uuid

import psycopg2
import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch

from tests.sandbox.runtime_stack import Stack, processes_of, run_query, wait_until

pytestmark = [pytest.mark.slow]

CLUSTER = "ha"
GROUP, VERSION, PLURAL = "postgresql.cnpg.io", "v1", "clusters"


@pytest.fixture(name="stack", scope="module")
def fixture_stack(real_cluster):
    stack = Stack(real_cluster, f"rt-ha-{uuid.uuid4().hex[:6]}")
    real_cluster.kubectl("create", "namespace", stack.namespace)
    stack.apply({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": CLUSTER},
                 "spec": {"instances": 3, "storage": {"size": "1Gi"},
                          "bootstrap": {"initdb": {"database": "app", "owner": "app"}}}})
    stack.wait_condition("clusters.postgresql.cnpg.io", CLUSTER, "Ready", timeout=240)
    yield stack
    real_cluster.kubectl("delete", "namespace", stack.namespace, "--wait=false", check=False)


def _instance_sql(stack: Stack, pod_name: str, query: str, dbname: str = "postgres") -> list[tuple]:
    """As `postgres` over the instance's own socket (the operator's access to each instance)."""
    socket_dir = stack.get("pod", pod_name)["metadata"]["annotations"]["sandbox.mlops.io/postgres-socket"]
    return run_query(query, host=socket_dir, port=5432, user="postgres", dbname=dbname, connect_timeout=5)


def _service_sql(stack: Stack, service: str, query: str) -> list[tuple]:
    """As the application user through a Service, as a client in the namespace connects."""
    user, password = stack.app_credentials(CLUSTER)
    return run_query(query, host=stack.service_address(service), port=5432, user=user, password=password,
                     dbname="app", connect_timeout=5)


def _pod_ips(stack: Stack) -> dict[str, str]:
    """The instance pods that have an IP: a pod just created again (the deleted primary's) has none until it runs,
    as in Kubernetes, where status.podIP is set once the pod's sandbox is up."""
    pods = stack.items("pods", "-l", f"cnpg.io/cluster={CLUSTER}")
    return {pod["metadata"]["name"]: pod["status"]["podIP"] for pod in pods if pod.get("status", {}).get("podIP")}


def _pod_names(stack: Stack) -> set[str]:
    return {pod["metadata"]["name"] for pod in stack.items("pods", "-l", f"cnpg.io/cluster={CLUSTER}")}


def _roles(stack: Stack) -> dict[str, str]:
    return {p["metadata"]["name"]: p["metadata"]["labels"]["cnpg.io/instanceRole"]
            for p in stack.items("pods", "-l", f"cnpg.io/cluster={CLUSTER}")}


def _streaming(stack: Stack, primary: str) -> list[str]:
    return sorted(row[0] for row in _instance_sql(
        stack, primary, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'"))


def _healthy(stack: Stack, instances: int):
    status = stack.get("clusters.postgresql.cnpg.io", CLUSTER).get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready" and c["status"] == "True"]
    return status if ready and status.get("readyInstances") == instances else None


def test_three_instances_are_a_primary_and_two_streaming_replicas(stack: Stack):
    status = wait_until(lambda: _healthy(stack, 3), 120, "3 ready instances")
    assert status["phase"] == "Cluster in healthy state"
    assert (status["instances"], status["currentPrimary"], status["targetPrimary"]) == (3, "ha-1", "ha-1")
    assert status["instanceNames"] == ["ha-1", "ha-2", "ha-3"]
    assert status["instancesStatus"] == {"healthy": ["ha-1", "ha-2", "ha-3"]}
    assert status["latestGeneratedNode"] == 3
    assert status["currentPrimaryTimestamp"] and status["targetPrimaryTimestamp"]
    postmasters = {line for line in processes_of(stack.cluster.state_dir, stack.namespace)
                   if "/bin/postgres -D " in line}
    assert len(postmasters) == 3, postmasters
    assert _roles(stack) == {"ha-1": "primary", "ha-2": "replica", "ha-3": "replica"}
    assert wait_until(lambda: _streaming(stack, "ha-1") == ["ha-2", "ha-3"], 60, "two streaming standbys")
    for replica in ("ha-2", "ha-3"):
        assert _instance_sql(stack, replica, "SELECT pg_is_in_recovery()") == [(True,)]
        conninfo = _instance_sql(stack, replica, "SHOW primary_conninfo")[0][0]
        assert f"host={CLUSTER}-rw " in conninfo and "user=streaming_replica" in conninfo
        assert f"application_name={replica}" in conninfo

    ips = _pod_ips(stack)
    assert _service_sql(stack, f"{CLUSTER}-rw", "SELECT host(inet_server_addr()), pg_is_in_recovery()") == \
        [(ips["ha-1"], False)]
    read_only = {_service_sql(stack, f"{CLUSTER}-ro", "SELECT host(inet_server_addr())")[0][0] for _attempt in range(6)}
    assert read_only == {ips["ha-2"], ips["ha-3"]}  # round-robin over the replicas only
    any_instance = {_service_sql(stack, f"{CLUSTER}-r", "SELECT host(inet_server_addr())")[0][0]
                    for _attempt in range(9)}
    assert any_instance == set(ips.values())

    _service_sql(stack, f"{CLUSTER}-rw", "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('before')")
    wait_until(lambda: _service_sql(stack, f"{CLUSTER}-ro", "SELECT body FROM notes") == [("before",)], 30,
               "the write on a replica")
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        _service_sql(stack, f"{CLUSTER}-ro", "INSERT INTO notes VALUES ('on a standby')")


def _watch_phases(stack: Stack, seen: list[tuple[str, str, str]], stop: threading.Event) -> threading.Thread:
    """Record (phase, phaseReason, targetPrimary) of every change of the Cluster, from a watch."""
    k8s_config.load_kube_config(config_file=str(stack.cluster.kubeconfig))
    api = k8s_client.CustomObjectsApi()

    def record():
        watcher = k8s_watch.Watch()
        for event in watcher.stream(api.list_namespaced_custom_object, GROUP, VERSION, stack.namespace, PLURAL,
                                    field_selector=f"metadata.name={CLUSTER}", timeout_seconds=120):
            status = event["object"].get("status") or {}
            seen.append((status.get("phase"), status.get("phaseReason", ""), status.get("targetPrimary")))
            if stop.is_set():
                watcher.stop()
    thread = threading.Thread(target=record, daemon=True)
    thread.start()
    return thread


def test_deleting_the_primary_pod_fails_over_to_a_replica_and_the_old_primary_rejoins(stack: Stack):
    wait_until(lambda: _healthy(stack, 3), 120, "3 ready instances")
    seen: list[tuple[str, str, str]] = []
    stop = threading.Event()
    watcher = _watch_phases(stack, seen, stop)
    wait_until(lambda: seen, 30, "the watch to start")
    stack.cluster.kubectl("-n", stack.namespace, "delete", "pod", "ha-1", "--wait=false")

    def failed_over():
        status = stack.get("clusters.postgresql.cnpg.io", CLUSTER)["status"]
        return status if status["currentPrimary"] in ("ha-2", "ha-3") else None
    status = wait_until(failed_over, 90, "a replica to become the primary")
    new_primary = status["currentPrimary"]
    assert status["targetPrimary"] == new_primary
    assert _instance_sql(stack, new_primary, "SELECT pg_is_in_recovery()") == [(False,)]
    # Writes go on through -rw, now the promoted replica, which kept what the old primary had.
    wait_until(lambda: _service_sql(stack, f"{CLUSTER}-rw", "SELECT host(inet_server_addr())")[0][0]
               == _pod_ips(stack)[new_primary], 30, "-rw to lead to the new primary")
    _service_sql(stack, f"{CLUSTER}-rw", "INSERT INTO notes VALUES ('after')")
    assert sorted(_service_sql(stack, f"{CLUSTER}-rw", "SELECT body FROM notes")) == [("after",), ("before",)]

    # The old primary comes back in a new pod as a replica of the new primary; the cluster is healthy again.
    status = wait_until(lambda: _healthy(stack, 3), 180, "3 ready instances after the failover")
    stop.set()
    assert status["phase"] == "Cluster in healthy state"
    assert _roles(stack) == {name: "primary" if name == new_primary else "replica" for name in ("ha-1", "ha-2", "ha-3")}
    assert _instance_sql(stack, "ha-1", "SELECT pg_is_in_recovery()") == [(True,)]
    others = sorted({"ha-1", "ha-2", "ha-3"} - {new_primary})
    assert wait_until(lambda: _streaming(stack, new_primary) == others, 60, "both standbys streaming again")
    wait_until(lambda: sorted(_instance_sql(stack, "ha-1", "SELECT body FROM notes", "app"))
               == [("after",), ("before",)], 30, "the rejoined instance to have every write")
    watcher.join(timeout=5)

    phases = list(seen)
    assert ("Failing over", "Initiating a failover from ha-1", "pending") in phases, phases
    assert ("Failing over", f"Failing over from ha-1 to {new_primary}", new_primary) in phases, phases
    assert phases.index(("Failing over", "Initiating a failover from ha-1", "pending")) < \
        phases.index(("Failing over", f"Failing over from ha-1 to {new_primary}", new_primary))


def test_scale_down_removes_the_replica_with_the_highest_serial_and_scale_up_takes_a_new_serial(stack: Stack):
    status = wait_until(lambda: _healthy(stack, 3), 120, "3 ready instances")
    primary = status["currentPrimary"]
    victim = max((name for name in status["instanceNames"] if name != primary), key=lambda n: int(n.rsplit("-", 1)[1]))
    stack.cluster.kubectl("-n", stack.namespace, "patch", "clusters.postgresql.cnpg.io", CLUSTER, "--type=merge",
                          "-p", '{"spec": {"instances": 2}}')
    status = wait_until(lambda: _healthy(stack, 2) if victim not in _pod_names(stack) else None, 60,
                        f"{victim} to be removed")
    assert status["currentPrimary"] == primary
    assert victim not in status["instanceNames"] and len(status["instanceNames"]) == 2
    assert len([line for line in processes_of(stack.cluster.state_dir, stack.namespace)
                if "/bin/postgres -D " in line]) == 2

    stack.cluster.kubectl("-n", stack.namespace, "patch", "clusters.postgresql.cnpg.io", CLUSTER, "--type=merge",
                          "-p", '{"spec": {"instances": 3}}')
    status = wait_until(lambda: _healthy(stack, 3), 120, "a third instance again")
    assert status["latestGeneratedNode"] == 4 and "ha-4" in status["instanceNames"]
    assert _roles(stack)["ha-4"] == "replica"
    assert wait_until(lambda: "ha-4" in _streaming(stack, primary), 60, "ha-4 streaming")
