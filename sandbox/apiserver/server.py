"""The API server process: HTTP on 127.0.0.1, the store, and the controllers, in one process."""

from __future__ import annotations

import logging
import signal
import ssl
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from ..pki import write_server_files
from . import crds, policy, resources
from .access import Access
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

    def __init__(self, address: tuple[str, int], api: Api, key_file: Path | None = None):
        super().__init__(address, Handler)
        self.api = api
        self.access = Access(api, key_file)  # authentication, authorization and the identity endpoints
        self.openapi = OpenApi(api.registry)
        self.extensions = Extensions()
        self.stopping = threading.Event()
        self.runtime = None  # sandbox.runtime.Runtime when processes run behind the objects (pods/log reads it)
        self.audit: AuditLog | None = None  # mutating requests' bodies (audit.jsonl in the state folder)
        self.tls = False

    def secure_twin(self, context: ssl.SSLContext) -> ApiHttpServer:
        """The same API on a TLS port of its own (a free one): the port for clients that send credentials, which
        Go clients only do over TLS. A request without credentials is `system:anonymous` there."""
        twin = ApiHttpServer.__new__(ApiHttpServer)
        ThreadingHTTPServer.__init__(twin, (self.server_address[0], 0), Handler)
        for shared in ("api", "openapi", "extensions", "stopping", "runtime", "audit"):
            setattr(twin, shared, getattr(self, shared))
        twin.access = self.access.secure()
        twin.socket = context.wrap_socket(twin.socket, server_side=True, do_handshake_on_connect=False)
        twin.tls = True
        return twin

    def finish_request(self, request, client_address) -> None:
        if self.tls:
            try:
                request.do_handshake()  # in the request's own thread, not in the accepting one
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def bootstrap(api: Api) -> None:
    """The objects every cluster starts with: the default namespaces and their `default` service accounts, the
    CRDs of the custom resources served from the start, and the default RBAC policy (policy.py)."""
    registry = api.registry
    namespace_type = registry.by_kind("v1", "Namespace")
    account_type = registry.by_kind("v1", "ServiceAccount")
    options = Options(user_agent="kube-apiserver")
    for name in ("default", "kube-system", "kube-public"):
        if api.store.get(namespace_type.key, "", name) is None:
            api.create(namespace_type, "", {"metadata": {"name": name}}, options)
        if api.store.get(account_type.key, name, "default") is None:
            api.create(account_type, name, {"metadata": {"name": "default"}}, options)
    crds.seed(api.store, registry)
    policy.install(api)


def warn_unvalidated(registry: resources.Registry) -> None:
    for resource in registry.types:
        if resource.schema_node() is None:
            LOG.warning("%s is served without schema validation (no published schema available)", resource.qualified)


def _controller_manager(api: Api, runtime: object):
    """The controllers of the cluster's flavour. On plain Kubernetes no OpenShift controller runs (no router, no
    builds), and, with real processes, an ingress controller routes Ingress hosts instead (services.py)."""
    # pylint: disable=import-outside-toplevel
    from ..controllers.manager import ControllerManager, default_controllers
    from ..controllers.services import IngressController
    chosen = [c for c in default_controllers(runtime) if api.registry.by_kind(*c.kind) is not None]
    if api.registry.flavour == "kubernetes" and runtime is not None:
        chosen.append(IngressController)
    return ControllerManager(api, controllers=chosen, runtime=runtime)


class ApiServer:
    """Owns the HTTP server, the store and the controller manager; `start()` returns once it is serving."""

    def __init__(self, port: int, snapshot: Path | None = None, controllers: bool = True, runtime: object = None,
                 audit: Path | None = None, tls_dir: Path | None = None, flavour: str = "openshift"):
        self.store = Store(snapshot)
        # Its own registry (CRDs change what it serves), for an OpenShift or a plain Kubernetes cluster.
        self.api = Api(self.store, resources.registry().copy(flavour))
        self.runtime = runtime
        # ServiceAccount tokens stay valid across a restart with --persist, as on a cluster.
        key_file = snapshot.with_name("serviceaccount-signing.key") if snapshot is not None else None
        self.http = ApiHttpServer(("127.0.0.1", port), self.api, key_file)
        self.http.runtime = runtime
        self.http.audit = AuditLog(audit) if audit is not None else None
        self.port = self.http.server_address[1]
        # The TLS port (certificates in `tls_dir`, signed by the cluster CA of sandbox/pki.py).
        self.https: ApiHttpServer | None = None
        if tls_dir is not None:
            _, cert_file, key_file = write_server_files(tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            context.set_alpn_protocols(["http/1.1"])
            self.https = self.http.secure_twin(context)
        self.tls_port = self.https.server_address[1] if self.https is not None else None
        self._threads: list[threading.Thread] = []
        self.manager = None
        if controllers:
            self.manager = _controller_manager(self.api, runtime)

    def start(self) -> None:
        warn_unvalidated(self.api.registry)
        bootstrap(self.api)
        for name, server in (("http", self.http), ("https", self.https)):
            if server is not None:
                serve = threading.Thread(target=server.serve_forever, name=name, daemon=True)
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
        for server in (self.http, self.https):
            if server is not None:
                server.shutdown()
                server.server_close()
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
