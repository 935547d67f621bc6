"""Runs the controllers: one worker thread each, fed by a watch through the client (what is stored, then every
change), with de-duplicated keys, delayed re-queues and a back-off after errors."""

from __future__ import annotations

import heapq
import logging
import threading
import time

from .base import Controller
from .client import Api, Client

LOG = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name)
_RETRY_AFTER_ERROR = 2.0


def default_controllers(runtime: object | None = None) -> list[type[Controller]]:
    """The controllers the sandbox runs: the cluster's own housekeeping (each namespace's `default` account and CA
    bundle, aggregated ClusterRoles) always; with a runtime, the ones that run real processes; without, the
    stand-ins."""
    # pylint: disable=import-outside-toplevel
    from . import standins
    from .clusterroles import ClusterRoleAggregationController
    from .namespaces import RootCAPublisher, ServiceAccountController
    always: list[type[Controller]] = [ServiceAccountController, RootCAPublisher, ClusterRoleAggregationController]
    if runtime is None:
        return always + list(standins.STAND_INS)
    from .real import REAL
    return always + list(REAL)


class _Worker:
    def __init__(self, controller: Controller):
        self.controller = controller
        self.pending: set[Key] = set()
        self.order: list[Key] = []
        self.delayed: list[tuple[float, Key]] = []
        self.wake = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=f"controller-{controller.name}", daemon=True)

    def enqueue(self, key: Key, delay: float = 0.0) -> None:
        with self.wake:
            if delay > 0:
                heapq.heappush(self.delayed, (time.monotonic() + delay, key))
            elif key not in self.pending:
                self.pending.add(key)
                self.order.append(key)
            self.wake.notify()

    def _next(self) -> Key | None:
        with self.wake:
            while not self.stopping:
                now = time.monotonic()
                while self.delayed and self.delayed[0][0] <= now:
                    key = heapq.heappop(self.delayed)[1]
                    if key not in self.pending:
                        self.pending.add(key)
                        self.order.append(key)
                if self.order:
                    key = self.order.pop(0)
                    self.pending.discard(key)
                    return key
                timeout = self.delayed[0][0] - now if self.delayed else None
                self.wake.wait(timeout)
            return None

    def _run(self) -> None:
        controller = self.controller
        api_version, kind = controller.kind
        while True:
            key = self._next()
            if key is None:
                return
            namespace, name = key
            try:
                obj = controller.client.get(api_version, kind, namespace, name)
                delay = controller.reconcile(obj, namespace, name)
            except Exception:  # pylint: disable=broad-exception-caught  # a failed reconcile is retried
                LOG.exception("%s: reconciling %s/%s failed; retrying", controller.name, namespace, name)
                delay = _RETRY_AFTER_ERROR
            if delay is not None:
                self.enqueue(key, delay)

    def stop(self) -> None:
        with self.wake:
            self.stopping = True
            self.wake.notify_all()


class ControllerManager:
    def __init__(self, api: Api, controllers: list[type[Controller]] | None = None, runtime: object | None = None):
        self.client = Client(api, "kube-controller-manager")  # the manager's own watch
        self.workers: list[_Worker] = []
        for controller_type in controllers if controllers is not None else default_controllers(runtime):
            controller = controller_type(Client(api, controller_type.name), runtime)
            self.workers.append(_Worker(controller))
        self._watched: dict[tuple[str, str], list[_Worker]] = {}
        self._owned: dict[tuple[str, str], list[tuple[_Worker, str]]] = {}
        for worker in self.workers:
            self._watched.setdefault(worker.controller.kind, []).append(worker)
            for owned in worker.controller.owns:
                self._owned.setdefault(owned, []).append((worker, worker.controller.kind[1]))

    def start(self) -> None:
        for worker in self.workers:
            worker.thread.start()
        # What is already stored (a snapshot, the bootstrap objects) first, then every change.
        self.client.watch(set(self._watched) | set(self._owned), self._on_change)

    def _on_change(self, kind: tuple[str, str], obj: dict) -> None:
        meta = obj.get("metadata") or {}
        for worker in self._watched.get(kind, ()):
            worker.enqueue((meta.get("namespace", ""), meta["name"]))
        for worker, owner_kind in self._owned.get(kind, ()):
            for ref in meta.get("ownerReferences") or []:
                if ref.get("controller") and ref.get("kind") == owner_kind:
                    worker.enqueue((meta.get("namespace", ""), ref["name"]))

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.thread.join(timeout=5)
            try:
                worker.controller.stop()
            except Exception:  # pylint: disable=broad-exception-caught  # keep stopping the others
                LOG.exception("stopping controller %s failed", worker.controller.name)
