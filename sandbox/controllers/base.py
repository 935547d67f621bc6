"""The controller interface.

A controller names the kind it reconciles; the manager calls `reconcile` with the current object whenever one
object of that kind changes (and again after the delay `reconcile` returns, for controllers that poll a process). `owns`
names kinds whose changes re-trigger the owner named in their controller ownerReference, the way a Deployment
controller hears about its ReplicaSets.

The real-process controllers (real.py: a venv per image, PostgreSQL, barman-cloud) and the stand-ins
(standins.py) both subclass `Controller`; `manager.default_controllers()` picks one set, and `stop()` releases
what a controller started.
"""

from __future__ import annotations

from typing import Any

from ..timestamps import now
from .client import Client


def condition(kind: str, status: bool | str, reason: str, message: str = "", observed_generation: int | None = None,
              previous: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A status condition that keeps its lastTransitionTime while its status does not change (`status`: a bool,
    or "Unknown")."""
    value = status if isinstance(status, str) else ("True" if status else "False")
    earlier = next((c for c in previous or [] if c.get("type") == kind), None)
    stamp = earlier["lastTransitionTime"] if earlier and earlier.get("status") == value and \
        earlier.get("lastTransitionTime") else now()
    found = {"type": kind, "status": value, "lastTransitionTime": stamp}
    if reason:
        found["reason"] = reason
    if message:
        found["message"] = message
    if observed_generation is not None:
        found["observedGeneration"] = observed_generation
    return found


class Controller:
    """Reconciles objects of `kind` (an (apiVersion, kind) pair)."""

    name = "controller"
    kind: tuple[str, str] = ("", "")
    owns: tuple[tuple[str, str], ...] = ()

    def __init__(self, client: Client, runtime: Any = None):
        self.client = client
        self.runtime = runtime  # sandbox.runtime.Runtime for controllers that run processes

    def reconcile(self, obj: dict[str, Any] | None, namespace: str, name: str) -> float | None:
        """Bring the world in line with `obj` (None: it was deleted). Return seconds until the next look, or None."""
        raise NotImplementedError

    def stop(self) -> None:
        """Release what the controller started (processes, files). Called once at shutdown."""
