"""TCP proxies on loopback addresses: a Service's (or Route's) address:port forwards each connection to one of the
ready endpoints, chosen round-robin when the connection is accepted. With no ready endpoint the connection is
reset at once, so clients fail fast the way they do against a Service with no endpoints.
"""

from __future__ import annotations

import itertools
import logging
import socket
import struct
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)

Endpoints = Callable[[], list[tuple[str, int]]]


class Listener:
    def __init__(self, address: str, port: int, endpoints: Endpoints, label: str):
        self.address, self.port, self.label = address, port, label
        self.endpoints = endpoints
        self._counter = itertools.count()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((address, port))
        self._socket.listen(64)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"proxy-{label}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            targets = self.endpoints()
        except Exception:  # pylint: disable=broad-exception-caught  # a lookup error must not kill the proxy
            LOG.exception("endpoints of %s", self.label)
            targets = []
        upstream = None
        if targets:
            start = next(self._counter)
            for i in range(len(targets)):
                target = targets[(start + i) % len(targets)]
                try:
                    upstream = socket.create_connection(target, timeout=5)
                    upstream.settimeout(None)
                    break
                except OSError:
                    continue
        if upstream is None:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not EOF
            client.close()
            return
        # kube-proxy's and a router's forwarding adds no delay of its own; a user-space copy with Nagle's algorithm on
        # would hold each response's second segment (the body after the headers) for the peer's delayed ACK, 40 ms.
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)

    def close(self) -> None:
        self._stopping.set()
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()


def copy_stream(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes from `source` to `sink` until `source` ends or either side fails."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                return
            sink.sendall(data)
    except OSError:
        return


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """One direction of a proxied connection; its end is passed on as a half-close, as TCP does."""
    copy_stream(source, sink)
    for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
        try:
            sock.shutdown(how)
        except OSError:
            pass


class Proxies:
    """The listeners, by owner (e.g. ("Service", ns, name)), replaced when an owner's ports change."""

    def __init__(self):
        self._lock = threading.Lock()
        self._owned: dict[tuple[str, str, str], dict[tuple[str, int], Listener]] = {}

    def ensure(self, owner: tuple[str, str, str], wanted: dict[tuple[str, int], Endpoints]) -> list[str]:
        """Make the owner's listeners exactly `wanted` ((address, port) -> endpoints); return bind errors."""
        problems = []
        with self._lock:
            current = self._owned.setdefault(owner, {})
            for key in list(current):
                if key not in wanted:
                    current.pop(key).close()
            for key, endpoints in wanted.items():
                if key in current:
                    current[key].endpoints = endpoints
                    continue
                try:
                    current[key] = Listener(key[0], key[1], endpoints, "/".join(owner))
                except OSError as exc:
                    problems.append(f"cannot listen on {key[0]}:{key[1]}: {exc}")
            if not current:
                self._owned.pop(owner, None)
        return problems

    def drop(self, owner: tuple[str, str, str]) -> None:
        self.ensure(owner, {})

    def close_all(self) -> None:
        with self._lock:
            owners = list(self._owned.values())
            self._owned.clear()
        for listeners in owners:
            for listener in listeners.values():
                listener.close()
