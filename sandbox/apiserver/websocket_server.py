"""The server side of a WebSocket (RFC 6455) on an HTTP request's connection: the handshake and the frames.

The frames are websocket-client's (`websocket.ABNF` writes them, `websocket.frame_buffer` reads and unmasks them;
the kubernetes client already depends on it). A server's frames are not masked; a client's always are.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import threading
from typing import Any, BinaryIO

from websocket import ABNF, WebSocketException, frame_buffer

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
# wsstream.IsWebSocketRequest: `Upgrade: websocket` and a Connection header naming upgrade.
_CONNECTION_UPGRADE = re.compile(r"(^|.*,\s*)upgrade($|\s*,)")
NORMAL_CLOSURE = 1000


class ConnectionClosed(Exception):
    """The peer went away without a close frame."""


def is_websocket_request(headers: Any) -> bool:
    """A WebSocket upgrade (not SPDY's, not a plain request)."""
    return (headers.get("Upgrade", "").lower() == "websocket"
            and bool(_CONNECTION_UPGRADE.match(headers.get("Connection", "").lower())))


def offered_protocols(headers: Any) -> list[str]:
    """The subprotocols the client offers, in its order of preference (the header may repeat)."""
    return [p.strip() for value in headers.get_all("Sec-WebSocket-Protocol") or [] for p in value.split(",")
            if p.strip()]


def accept(handler: Any, protocol: str) -> WebSocket:
    """Answer the handshake (101 Switching Protocols with `protocol`) and take over the connection."""
    key = handler.headers.get("Sec-WebSocket-Key", "")
    handler.send_response(101)
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept",
                        base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode())
    if protocol:
        handler.send_header("Sec-WebSocket-Protocol", protocol)
    handler.end_headers()
    handler.close_connection = True  # once the WebSocket ends, so does the connection
    return WebSocket(handler.rfile, handler.wfile)


class WebSocket:
    """One side of an open WebSocket: `send` from any thread, `receive` from one reader thread."""

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO):
        self._rfile = rfile
        self._wfile = wfile
        self._lock = threading.Lock()
        self._frames = frame_buffer(self._read, skip_utf8_validation=True)
        self.close_sent = False

    def _read(self, size: int) -> bytes:
        data = self._rfile.read1(size)  # type: ignore[attr-defined]
        if not data:
            raise ConnectionClosed()
        return data

    def send(self, data: bytes, opcode: int = ABNF.OPCODE_BINARY) -> None:
        """One unmasked, unfragmented frame."""
        frame = ABNF(1, 0, 0, 0, opcode, 0, data).format()
        with self._lock:
            if self.close_sent:
                raise BrokenPipeError("the WebSocket is closed")
            self._wfile.write(frame)
            self._wfile.flush()

    def close(self, code: int = NORMAL_CLOSURE) -> None:
        """Send the close frame (once); the peer answers with its own and closes the connection."""
        with self._lock:
            if self.close_sent:
                return
            self.close_sent = True
            try:
                self._wfile.write(ABNF(1, 0, 0, 0, ABNF.OPCODE_CLOSE, 0, struct.pack("!H", code)).format())
                self._wfile.flush()
            except OSError:
                pass

    def receive(self) -> bytes | None:
        """The next data message (fragments joined), answering pings on the way; None once the peer closed."""
        message = b""
        while True:
            try:
                frame = self._frames.recv_frame()
            except (ConnectionClosed, OSError, ValueError, WebSocketException):
                return None
            if frame.opcode == ABNF.OPCODE_PING:
                try:
                    self.send(frame.data, ABNF.OPCODE_PONG)
                except OSError:
                    return None
                continue
            if frame.opcode == ABNF.OPCODE_PONG:
                continue
            if frame.opcode == ABNF.OPCODE_CLOSE:
                self.close()
                return None
            message += frame.data if isinstance(frame.data, bytes) else frame.data.encode()
            if frame.fin:
                return message
