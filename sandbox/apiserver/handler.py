"""HTTP: parse a request into (resource, namespace, name, subresource, verb), call the API, encode the answer."""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from . import discovery, errors, podexec, podlog, protobuf, tables
from .operations import Api, DeleteOptions, Options
from .resources import ResourceType
from .selectors import field_selector, label_selector

LOG = logging.getLogger("sandbox.apiserver.requests")

_PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "unsupported",
}
_WATCH_TIMEOUT = 1800
_BOOKMARK_EVERY = 15.0


class Route:  # pylint: disable=too-few-public-methods
    def __init__(self, resource: ResourceType, namespace: str | None, name: str | None, subresource: str):
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.subresource = subresource


class Handler(BaseHTTPRequestHandler):
    """One request; the server object carries `api`, `openapi`, `extensions` and `stopping`."""

    protocol_version = "HTTP/1.1"
    server_version = "sandbox-apiserver"
    # TCP_NODELAY on every connection, as Go's net package sets on each TCP connection kube-apiserver accepts.
    # Without it, Nagle's algorithm holds a response's body (a second write, after the headers) until the client
    # acknowledges the headers, which its delayed ACK puts off by 40 ms: every request took 40 ms more than the
    # real API server's.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # stdlib signature
        LOG.debug(format, *args)

    # --- plumbing ----------------------------------------------------------------------------------------------

    @property
    def api(self) -> Api:
        return self.server.api  # type: ignore[attr-defined]

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}

    def _send(self, code: int, payload: Any, warnings: list[str] | None = None,
              content_type: str = "application/json", extra_headers: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for warning in warnings or []:
            self.send_header("Warning", '299 - "' + warning.replace('"', '\\"') + '"')
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status_code = code

    def _error(self, error: errors.ApiError) -> None:
        self._send(error.code, error.status())

    def _body(self) -> bytes:
        return self._request_body

    def _read_body(self) -> bytes:
        """Read the whole body before anything is answered (an unread body would be taken for the next request)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _decode(self, raw: bytes, content_type: str) -> Any:
        if not raw:
            return None
        if content_type == "application/vnd.kubernetes.protobuf":
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as exc:
                raise errors.unsupported_media_type(str(exc)) from exc
        try:
            if content_type in ("application/yaml", "application/apply-patch+yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the request body could not be decoded: {exc}") from exc

    def _dispatch(self) -> None:
        started = time.monotonic()
        self._status_code = 0
        self._request_body = b""
        try:
            self._request_body = self._read_body()
            self._route_request()
        except errors.ApiError as error:
            self._error(error)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # pylint: disable=broad-exception-caught  # answer 500, keep serving
            LOG.exception("internal error on %s %s", self.command, self.path)
            self._error(errors.ApiError(500, "InternalError", f"internal error in the sandbox API server: {exc}"))
        LOG.info("%s %s %s %.1fms %s", self.command, self.path, self._status_code,
                 (time.monotonic() - started) * 1000, self.headers.get("User-Agent", ""))
        audit = getattr(self.server, "audit", None)
        if audit is not None:
            audit.record(self.command, self.path, self._status_code, self._content_type(), self._request_body,
                         self.headers.get("User-Agent", ""))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    # --- routing -----------------------------------------------------------------------------------------------

    def _route_request(self) -> None:
        # Who asks, and whether they may, before anything else (kube-apiserver's filter chain; access.py).
        access = self.server.access  # type: ignore[attr-defined]
        request = access.admit(self.command, self.path, self.headers.get("Authorization"))
        answer = None
        # The identity endpoints of a group the cluster does not serve (projects on plain Kubernetes) answer 404.
        if self.api.registry.serves_group(request.api_group):
            answer = access.serve(request, self.command, lambda: self._decode(self._body(), self._content_type()))
        if answer is not None:
            self._send(*answer)
            return
        path = urlsplit(self.path).path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if self.command in ("GET", "HEAD"):
            static = self._static(path, parts)
            if static is not None:
                self._send(200, static[0], content_type=static[1], extra_headers=static[2])
                return
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        extension = None
        if self.api.registry.serves_group(group):  # no OpenShift verbs on a plain Kubernetes cluster
            extension = self.server.extensions.match(self.command, group, version, rest)  # type: ignore[attr-defined]
        if extension is not None:
            handler, namespace, name = extension
            payload = self._decode(self._body(), self._content_type())
            code, answer = handler(self.api, namespace, name, payload, self._options())
            self._send(code, answer)
            return
        route = self._resolve(group, version, rest)
        if route is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        self._serve(route)

    def _static(self, path: str, parts: list[str]) -> tuple[bytes, str, dict[str, str]] | None:
        registry = self.api.registry
        plain: Any = None
        if path in ("/healthz", "/livez", "/readyz"):
            return b"ok", "text/plain", {}
        if path == "/version":
            plain = discovery.version_info()
        elif path == "/api":
            plain = discovery.core_versions(f"127.0.0.1:{self.server.server_address[1]}")
        elif path == "/apis":
            plain = discovery.group_list(registry)
        elif len(parts) == 2 and parts[0] == "apis":
            plain = discovery.group(registry, parts[1])
            if plain is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        elif parts == ["api", "v1"]:
            plain = discovery.resource_list(registry, "", "v1")
        elif len(parts) == 3 and parts[0] == "apis":
            plain = discovery.resource_list(registry, parts[1], parts[2])
            if plain is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        elif path == "/openapi/v3":
            plain = self.server.openapi.root()  # type: ignore[attr-defined]
        elif path.startswith("/openapi/v3/"):
            document = self.server.openapi.document(path[len("/openapi/v3/"):])  # type: ignore[attr-defined]
            if document is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            return document, "application/json", {"Cache-Control": "public, immutable"}
        elif path == "/openapi/v2":
            raise errors.ApiError(404, "NotFound", "the sandbox serves /openapi/v3 only")
        if plain is None:
            return None
        return json.dumps(plain).encode(), "application/json", {}

    def _resolve(self, group: str, version: str, rest: list[str]) -> Route | None:
        registry = self.api.registry
        if len(rest) >= 3 and rest[0] == "namespaces":
            resource = registry.by_path(group, version, rest[2])
            if resource is not None and resource.namespaced and len(rest) <= 5:
                name = rest[3] if len(rest) > 3 else None
                sub = rest[4] if len(rest) > 4 else ""
                return Route(resource, rest[1], name, sub)
        if not rest or len(rest) > 3:
            return None
        resource = registry.by_path(group, version, rest[0])
        if resource is None:
            return None
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if resource.namespaced and name is not None:
            return None  # a namespaced kind is only reachable through /namespaces/<ns>/ by name
        return Route(resource, None, name, sub)

    def _content_type(self) -> str:
        return (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()

    def _options(self) -> Options:
        query = self._query()
        return Options(dry_run=query.get("dryRun") == "All", field_manager=query.get("fieldManager") or None,
                       field_validation=query.get("fieldValidation") or "Warn",
                       user_agent=self.headers.get("User-Agent", ""),
                       force=query.get("force", "").lower() in ("true", "1"))

    # --- verbs -------------------------------------------------------------------------------------------------

    def _serve(self, route: Route) -> None:  # pylint: disable=too-many-branches,too-many-return-statements
        resource, api, verb = route.resource, self.api, self.command
        query = self._query()
        if route.subresource == "exec" and resource.key == ("", "pods") and route.name is not None:
            if verb not in ("GET", "POST"):  # ExecREST's upgradeableMethods
                raise errors.method_not_allowed(f"{verb} is not allowed on pods/exec")
            podexec.serve(self, api, resource, route.namespace or "", route.name)
            return
        if route.subresource and route.subresource not in resource.subresources:
            raise errors.ApiError(404, "NotFound", f"the server could not find the requested resource "
                                                   f"({resource.plural}/{route.subresource})")
        namespace = route.namespace or ""
        if route.name is None:
            if verb in ("GET", "HEAD"):
                if query.get("watch") in ("true", "1"):
                    self._watch(resource, route.namespace, query)
                    return
                items, revision = api.list(resource, route.namespace, query.get("labelSelector"),
                                           query.get("fieldSelector"))
                self._send_list(resource, items, revision)
                return
            if verb == "POST":
                if not resource.namespaced or route.namespace is not None:
                    options = self._options()
                    body = self._decode(self._body(), self._content_type())
                    created = api.create(resource, namespace, body, options)
                    self._send(200 if options.dry_run else 201, self._maybe_table(resource, created),
                               options.warnings)
                    return
                raise errors.method_not_allowed("create needs a namespace in the path")
            if verb == "DELETE":
                deleted = api.delete_collection(resource, route.namespace, query.get("labelSelector"),
                                                query.get("fieldSelector"), self._delete_options())
                self._send_list(resource, deleted, api.store.revision)
                return
            raise errors.method_not_allowed(f"{verb} is not allowed on a collection")
        name = route.name
        if route.subresource == "log":
            if verb not in ("GET", "HEAD"):
                raise errors.method_not_allowed(f"{verb} is not allowed on {resource.plural}/log")
            podlog.serve(self, api, resource, namespace, name, query)
            return
        if route.subresource == "scale":
            self._scale(resource, namespace, name)
            return
        if verb in ("GET", "HEAD"):
            if query.get("watch") in ("true", "1"):
                raise errors.bad_request("watch a single object with a fieldSelector on the collection")
            self._send(200, self._maybe_table(resource, api.get(resource, namespace, name)))
            return
        if verb == "PUT":
            options = self._options()
            body = self._decode(self._body(), self._content_type())
            updated = api.update(resource, namespace, name, body, options, route.subresource)
            self._send(200, updated, options.warnings)
            return
        if verb == "PATCH":
            options = self._options()
            patch_type = _PATCH_TYPES.get(self._content_type())
            if patch_type in (None, "unsupported"):
                raise errors.unsupported_media_type(
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{', '.join(t for t, v in _PATCH_TYPES.items() if v != 'unsupported')}")
            body = self._decode(self._body(), self._content_type())
            existed = api.store.get(resource.key, namespace if resource.namespaced else "", name) is not None
            patched = api.patch(resource, namespace, name, patch_type, body, options, route.subresource)
            self._send(201 if not existed and not options.dry_run else 200, patched, options.warnings)
            return
        if verb == "DELETE":
            if route.subresource:
                raise errors.method_not_allowed(f"DELETE is not allowed on {route.subresource}")
            deleted = api.delete(resource, namespace, name, self._delete_options())
            self._send(200, deleted)
            return
        raise errors.method_not_allowed(f"{verb} is not supported")

    def _maybe_table(self, resource: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if tables.wants_table(self.headers.get("Accept", "")):
            return tables.table(resource, [obj], obj["metadata"].get("resourceVersion", ""),
                                self._query().get("includeObject", "Metadata"))
        return tables.partial(obj) if tables.wants_partial(self.headers.get("Accept", ""), False) else obj

    def _send_list(self, resource: ResourceType, items: list[dict[str, Any]], revision: int) -> None:
        if tables.wants_table(self.headers.get("Accept", "")):
            self._send(200, tables.table(resource, items, str(revision), self._query().get("includeObject",
                                                                                           "Metadata")))
            return
        if tables.wants_partial(self.headers.get("Accept", ""), True):
            self._send(200, tables.partial_list(items, str(revision)))
            return
        self._send(200, {"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                         "metadata": {"resourceVersion": str(revision)}, "items": items})

    def _delete_options(self) -> DeleteOptions:
        query = self._query()
        body = self._decode(self._body(), self._content_type()) or {}
        if not isinstance(body, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        propagation = query.get("propagationPolicy") or body.get("propagationPolicy")
        orphan = query.get("orphanDependents") or body.get("orphanDependents")
        if propagation is None and orphan is not None:
            propagation = "Orphan" if str(orphan).lower() == "true" else "Background"
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise errors.bad_request(f"invalid propagationPolicy {propagation!r}: use Orphan, Background or "
                                     "Foreground")
        preconditions = body.get("preconditions") or {}
        dry_run = query.get("dryRun") == "All" or "All" in (body.get("dryRun") or [])
        grace = query.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
        return DeleteOptions(propagation, preconditions.get("uid"), preconditions.get("resourceVersion"), dry_run,
                             int(grace) if grace not in (None, "") else None)

    def _scale(self, resource: ResourceType, namespace: str, name: str) -> None:
        api = self.api
        if self.command in ("GET", "HEAD"):
            self._send(200, api.get_scale(resource, namespace, name))
            return
        options = self._options()
        body = self._decode(self._body(), self._content_type())
        if self.command == "PUT":
            self._send(200, api.update_scale(resource, namespace, name, body, options))
            return
        if self.command == "PATCH":
            patch_type = _PATCH_TYPES.get(self._content_type())
            self._send(200, api.update_scale(resource, namespace, name, body, options, patch_type or "unknown"))
            return
        raise errors.method_not_allowed(f"{self.command} is not allowed on scale")

    # --- watch -------------------------------------------------------------------------------------------------

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, resource: ResourceType, namespace: str | None, query: dict[str, str]) -> None:
        api = self.api
        store = api.store
        labels = label_selector(query.get("labelSelector"))
        fields = field_selector(query.get("fieldSelector"), resource.kind)
        timeout = float(query.get("timeoutSeconds") or _WATCH_TIMEOUT)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        as_table = tables.wants_table(self.headers.get("Accept", ""))
        as_partial = tables.wants_partial(self.headers.get("Accept", ""), False)
        ns = namespace if resource.namespaced else None

        def matches(obj: dict[str, Any]) -> bool:
            if ns is not None and obj["metadata"].get("namespace") != ns:
                return False
            return labels(obj) and fields(obj)

        def encode(event_type: str, obj: dict[str, Any]) -> bytes:
            obj = api._present(resource, obj)  # pylint: disable=protected-access
            if as_table and event_type != "BOOKMARK":
                obj = tables.table(resource, [obj], obj["metadata"].get("resourceVersion", ""))
            elif as_partial:
                obj = tables.partial(obj)
            return json.dumps({"type": event_type, "object": obj}).encode() + b"\n"

        requested = query.get("resourceVersion", "")
        # Streaming lists (client-go's WatchListClient): initial state as ADDED events, then a bookmark that
        # marks their end.
        initial_events = query.get("sendInitialEvents") in ("true", "1")
        if initial_events:
            requested = ""  # the current state is never older than the resourceVersion asked for
        LOG.info("WATCH %s started (%s)", self.path, self.headers.get("User-Agent", ""))
        with store.lock:
            current_items, revision = api.list(resource, ns, query.get("labelSelector"), query.get("fieldSelector"))
            backlog = None
            if requested not in ("", "0"):
                try:
                    since = int(requested)
                except ValueError as exc:
                    raise errors.bad_request(f"invalid resourceVersion {requested!r}") from exc
                backlog = store.events_since(since)
                revision = since
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self._status_code = 200
        visible: set[tuple[str, str]] = set()
        try:
            if requested in ("", "0") or initial_events:
                for obj in current_items:
                    visible.add((obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
                    self._write_chunk(encode("ADDED", obj))
                if initial_events:
                    mark = {"kind": resource.kind, "apiVersion": resource.api_version,
                            "metadata": {"resourceVersion": str(revision),
                                         "annotations": {"k8s.io/initial-events-end": "true"}}}
                    self._write_chunk(json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n")
            elif backlog is None:
                gone = errors.gone(f"too old resource version: {requested} ({store.revision})").status()
                self._write_chunk(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                self._write_chunk(b"")
                return
            else:
                # What the client saw at its resourceVersion: what exists now, plus what was deleted since,
                # minus what was created since.
                ours = [e for e in backlog if e.key == resource.key]
                added = {(e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]) for e in ours
                         if e.type == "ADDED"}
                deleted = {(e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]) for e in ours
                           if e.type == "DELETED" and matches(e.obj)}
                now_visible = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in current_items}
                visible = (now_visible | deleted) - added
            deadline = time.monotonic() + timeout
            last_bookmark = time.monotonic()
            while time.monotonic() < deadline and not self.server.stopping.is_set():  # type: ignore[attr-defined]
                events = store.events_since(revision)
                if events is None:
                    gone = errors.gone("too old resource version").status()
                    self._write_chunk(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                    break
                for event in events:
                    revision = event.resource_version
                    if event.key != resource.key:
                        continue
                    obj = event.obj
                    ident = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                    if event.type == "DELETED":
                        if ident in visible:
                            visible.discard(ident)
                            self._write_chunk(encode("DELETED", obj))
                        continue
                    if matches(obj):
                        kind = "ADDED" if ident not in visible else event.type
                        visible.add(ident)
                        self._write_chunk(encode(kind, obj))
                    elif ident in visible:
                        visible.discard(ident)
                        self._write_chunk(encode("DELETED", obj))
                if bookmarks and time.monotonic() - last_bookmark > _BOOKMARK_EVERY:
                    last_bookmark = time.monotonic()
                    mark = {"kind": resource.kind, "apiVersion": resource.api_version,
                            "metadata": {"resourceVersion": str(revision)}}
                    self._write_chunk(json.dumps({"type": "BOOKMARK", "object": mark}).encode() + b"\n")
                store.wait_for_change(revision, min(1.0, max(0.0, deadline - time.monotonic())))
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError, ValueError):
            self.close_connection = True
