"""The API server process: HTTP on 127.0.0.1, the store, and the controllers, in one process."""

from __future__ import annotations

import logging
import signal
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from . import resources
from .audit import AuditLog
from .handler import Handler
from .openapi import OpenApi
from .openshift import Extensions
from .operations import Api, Options
from .store import Store

LOG = logging.getLogger(__name__)

_SNAPSHOT_EVERY = 2.0


class ApiHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: Api):
        super().__init__(address, Handler)
        self.api = api
        self.openapi = OpenApi(api.registry)
        self.extensions = Extensions()
        self.stopping = threading.Event()
        self.runtime = None  # sandbox.runtime.Runtime when processes run behind the objects (pods/log reads it)
        self.audit: AuditLog | None = None  # mutating requests' bodies (audit.jsonl in the state folder)


def bootstrap(api: Api) -> None:
    """The objects every cluster starts with: the default namespaces and their `default` service accounts."""
    registry = api.registry
    namespace_type = registry.by_kind("v1", "Namespace")
    account_type = registry.by_kind("v1", "ServiceAccount")
    options = Options(user_agent="kube-apiserver")
    for name in ("default", "kube-system", "kube-public"):
        if api.store.get(namespace_type.key, "", name) is None:
            api.create(namespace_type, "", {"metadata": {"name": name}}, options)
        if api.store.get(account_type.key, name, "default") is None:
            api.create(account_type, name, {"metadata": {"name": "default"}}, options)


def warn_unvalidated(registry: resources.Registry) -> None:
    for resource in registry.types:
        if resource.schema_node() is None:
            LOG.warning("%s is served without schema validation (no published schema available)", resource.qualified)


class ApiServer:
    """Owns the HTTP server, the store and the controller manager; `start()` returns once it is serving."""

    def __init__(self, port: int, snapshot: Path | None = None, controllers: bool = True, runtime: object = None,
                 audit: Path | None = None):
        self.store = Store(snapshot)
        self.api = Api(self.store, resources.registry())
        self.runtime = runtime
        self.http = ApiHttpServer(("127.0.0.1", port), self.api)
        self.http.runtime = runtime
        self.http.audit = AuditLog(audit) if audit is not None else None
        self.port = self.http.server_address[1]
        self._threads: list[threading.Thread] = []
        self.manager = None
        if controllers:
            from ..controllers.manager import ControllerManager  # pylint: disable=import-outside-toplevel
            self.manager = ControllerManager(self.api, runtime=runtime)

    def start(self) -> None:
        warn_unvalidated(self.api.registry)
        bootstrap(self.api)
        serve = threading.Thread(target=self.http.serve_forever, name="http", daemon=True)
        serve.start()
        self._threads.append(serve)
        snapshots = threading.Thread(target=self._snapshot_loop, name="snapshot", daemon=True)
        snapshots.start()
        self._threads.append(snapshots)
        if self.manager is not None:
            self.manager.start()

    def _snapshot_loop(self) -> None:
        while not self.http.stopping.wait(_SNAPSHOT_EVERY):
            self.store.save()

    def stop(self) -> None:
        self.http.stopping.set()
        if self.manager is not None:
            self.manager.stop()
        self.http.shutdown()
        self.http.server_close()
        if self.http.audit is not None:
            self.http.audit.close()
        if self.runtime is not None:
            self.runtime.stop()
        self.store.save()

    def serve_until_signalled(self) -> None:
        done = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: done.set())
        done.wait()
        self.stop()
