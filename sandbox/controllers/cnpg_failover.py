"""What CNPG's operator says and decides when instances come and go (internal/controller/replicas.go,
cluster_create.go, cluster_scale.go, cluster_controller.go; the phases of api/v1/cluster_types.go).

- failover: the primary is gone; `targetPrimary` becomes `pending` (PendingFailoverMarker) with the phase
  "Failing over", reason "Initiating a failover from <old>"; then the most advanced replica (the highest received,
  then replayed, WAL position; then the lowest name: pkg/postgres/status.go, PostgresqlStatusList.Less) becomes the
  target, reason "Failing over from <old> to <new>"; it promotes and becomes `currentPrimary`;
- a new replica (scale up) is joined with the phase "Creating a new replica", reason "Creating replica
  <cluster>-<serial>-join" (joinReplicaInstance);
- an instance whose pod is not active holds the phase "Waiting for the instances to become active";
- scale down removes the ready replica with the highest serial, never the primary (findDeletableInstance).
"""

from __future__ import annotations

from collections.abc import Iterable

PENDING_FAILOVER = "pending"
PHASE_FIRST_PRIMARY = "Setting up primary"
PHASE_HEALTHY = "Cluster in healthy state"
PHASE_FAILOVER = "Failing over"
PHASE_CREATING_REPLICA = "Creating a new replica"
PHASE_WAITING_INSTANCES = "Waiting for the instances to become active"
WAITING_INSTANCES_REASON = "Some instances are not yet active. Please wait."


def most_advanced(positions: Iterable[tuple[str, tuple[int, int]]]) -> str | None:
    """The name of the failover target among (pod name, (received, replayed)) of the running replicas."""
    ordered = sorted(positions, key=lambda item: (-item[1][0], -item[1][1], item[0]))
    return ordered[0][0] if ordered else None


def serial_of(pod_name: str) -> int:
    """The node serial in an instance's name (`<cluster>-<serial>`: pkg/specs, GetNodeSerial)."""
    return int(pod_name.rsplit("-", 1)[1])


def deletable_replica(replicas: Iterable[str]) -> str | None:
    """The replica a scale down removes: the highest serial (the ready replicas only are passed in)."""
    return max(replicas, key=serial_of, default=None)
