"""`pods/<name>/exec`: a command in a pod's container, streamed over a WebSocket (`kubectl exec`, the kubernetes
client's `stream`, kubernetes.core.k8s_exec); the command runs as sandbox/runtime/podexec.py says.

What kube-apiserver checks before it connects (pkg/registry/core/pod/strategy.go, streamLocation): the pod (404),
the container (`container x is not valid for pod y`, or one must be named), a node (`pod y does not have a host
assigned`); then an upgrade is required (`Upgrade request required`, genericrest.UpgradeAwareProxyHandler). GET and
POST are both served (ExecREST's upgradeableMethods); RBAC sees `get` or `create` on `pods/exec`.

The WebSocket protocols (Sec-WebSocket-Protocol), each binary message's first byte its channel (0 stdin, 1 stdout,
2 stderr, 3 error, 4 resize):

- `v5.channel.k8s.io` (kubectl >= 1.30, which offers nothing else): kube-apiserver's stream translator
  (staging/src/k8s.io/apiserver/pkg/util/proxy/streamtranslator.go, websocket.go), with the CLOSE signal `[255,
  channel]` that ends the client's stdin;
- `v4.channel.k8s.io`, `v4.base64.channel.k8s.io`, `channel.k8s.io`, `base64.channel.k8s.io` or none: the kubelet's
  own WebSocket server, to which kube-apiserver proxies them (staging/src/k8s.io/kubelet/pkg/cri/streaming/
  remotecommand/websocket.go). v4 writes a JSON Status on the error channel, older ones its message on failure only.

The end of the command is a Status on channel 3 (kubelet remotecommand/exec.go, ServeExec): Success, or Failure
with reason NonZeroExitCode and the cause ExitCode, from which clients take the exit code. SPDY, which kubectl
falls back to when a WebSocket upgrade fails, is not implemented: a 501 that says so, after the checks above.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websocket import ABNF

from ..runtime import podexec
from . import errors, podlog, websocket_server

V5 = "v5.channel.k8s.io"
_KUBELET_PROTOCOLS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
_PUMP_WAIT = 2.0  # after the command ended: what its output pipes still hold
_CLOSE_WAIT = 10.0  # for the client's answer to the close frame
_CONTAINER_CHECK = 1.0  # how often a running command looks whether its container still runs


def _options(path: str) -> dict[str, Any]:
    query = parse_qs(urlsplit(path).query, keep_blank_values=True)

    def flag(name: str) -> bool:
        return (query.get(name) or [""])[-1] in _TRUE
    return {"command": query.get("command") or [], "container": (query.get("container") or [""])[-1],
            "stdin": flag("stdin"), "stdout": flag("stdout"), "stderr": flag("stderr"), "tty": flag("tty")}


def _status(code: int | None, message: str = "", internal: bool = False) -> dict[str, Any]:
    """The metav1.Status of the error channel: Success, a non-zero exit, or an internal error."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    if internal:
        return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {message}",
                "reason": "InternalError", "details": {"causes": [{"message": message}]}, "code": 500}
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _first_channel(options: dict[str, Any]) -> int:
    """The lowest writable channel: an empty message on it tells the client the connection is up."""
    return STDOUT if options["stdout"] else STDERR if options["stderr"] else ERROR


def serve(handler: Any, api: Any, resource: Any, namespace: str, name: str) -> None:
    """Check the request as kube-apiserver does, then run the command over the WebSocket it upgrades to."""
    options = _options(handler.path)
    pod = api.get(resource, namespace, name)
    container = podlog.container_name(pod, options["container"])
    if not (pod.get("spec") or {}).get("nodeName"):
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    if not websocket_server.is_websocket_request(handler.headers):
        if handler.headers.get("Upgrade", "").lower().startswith("spdy"):
            raise errors.ApiError(501, "NotImplemented", "the sandbox serves pods/exec over WebSocket only "
                                                         f"({V5}, {', '.join(_KUBELET_PROTOCOLS)}); SPDY is not "
                                                         "implemented")
        raise errors.bad_request("Upgrade request required")
    if options["tty"]:
        options["stderr"] = False  # kubelet remotecommand.NewOptions: no stderr with a tty
    if not (options["stdin"] or options["stdout"] or options["stderr"]):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    offered = websocket_server.offered_protocols(handler.headers)
    # kube-apiserver translates every request offering v5; the others go to the kubelet, which takes the client's
    # first protocol it knows (golang.org/x/net/websocket handshake).
    protocol = V5 if V5 in offered else next((p for p in offered if p in _KUBELET_PROTOCOLS), "" if not offered
                                             else None)
    if protocol is None:
        raise errors.bad_request(f"requested protocol(s) are not supported: {offered}; supports "
                                 f"{[V5, *_KUBELET_PROTOCOLS]}")
    try:
        target = podexec.target(getattr(handler.server, "runtime", None), pod, container)
    except podexec.NotRunning as exc:
        if protocol != V5:  # the kubelet refuses the upgrade; kube-apiserver passes its answer on
            handler._send(500, str(exc).encode(), content_type="text/plain")  # pylint: disable=protected-access
            return
        # The translator's SPDY connection to the kubelet failed: reported on the WebSocket it accepted.
        channels = Channels(websocket_server.accept(handler, protocol), protocol)
        handler._status_code = 101  # pylint: disable=protected-access
        try:
            channels.send(_first_channel(options), b"")
        except OSError:
            return
        channels.finish(_status(None, f"unable to upgrade connection: {exc}", internal=True))
        channels.await_close()
        return
    channels = Channels(websocket_server.accept(handler, protocol), protocol)
    handler._status_code = 101  # pylint: disable=protected-access
    Exec(channels, target, options).run()


class Channels:
    """The channel framing of one negotiated protocol on a WebSocket."""

    def __init__(self, socket: websocket_server.WebSocket, protocol: str):
        self.socket = socket
        self.protocol = protocol
        self.base64 = "base64" in protocol
        self.json_status = protocol in (V5, "v4.channel.k8s.io", "v4.base64.channel.k8s.io")

    def send(self, channel: int, data: bytes) -> None:
        """One message on `channel`."""
        if self.base64:
            self.socket.send(str(channel).encode() + base64.b64encode(data), ABNF.OPCODE_TEXT)
        else:
            self.socket.send(bytes([channel]) + data)

    def receive(self) -> tuple[int, bytes] | None:
        """(channel, data) of the client's next message; None once it closed."""
        while True:
            message = self.socket.receive()
            if message is None:
                return None
            if not message:
                continue
            if not self.base64:
                return message[0], message[1:]
            try:
                return message[0] - ord("0"), base64.b64decode(message[1:])
            except binascii.Error:
                continue  # wsstream drops a frame it cannot decode

    def await_close(self) -> None:
        """After finish(): drop what the client still sends until it closed (at most _CLOSE_WAIT seconds), so
        that closing the connection does not reset it under what the client has yet to read."""
        def drain() -> None:
            while self.receive() is not None:
                pass
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        reader.join(_CLOSE_WAIT)

    def finish(self, status: dict[str, Any]) -> None:
        """The command's end on the error channel, then the close frame."""
        try:
            if self.json_status:
                self.send(ERROR, json.dumps(status, separators=(",", ":")).encode())
            elif status["status"] != "Success":  # v1WriteStatusFunc: the message, on failure only
                self.send(ERROR, status["message"].encode())
        except OSError:
            pass
        self.socket.close()


class Exec:  # pylint: disable=too-few-public-methods
    """One exec session: the client's input to the command, the command's output to the client."""

    def __init__(self, channels: Channels, target: podexec.Target, options: dict[str, Any]):
        self.channels = channels
        self.target = target
        self.options = options
        self.client_gone = threading.Event()

    def run(self) -> None:
        """Start the command, stream both ways until it ends, then report its end on the error channel."""
        options = self.options
        try:
            self.channels.send(_first_channel(options), b"")
            session = podexec.Session(self.target, options)
        except podexec.StartError as exc:
            self._finish(_status(None, f"error executing command in container: {exc}", internal=True))
            self.channels.await_close()
            return
        except OSError:
            return
        reader = threading.Thread(target=self._read_client, args=(session,), daemon=True)
        reader.start()
        pumps = [threading.Thread(target=self._pump, args=(session, channel, fd), daemon=True)
                 for channel, fd in session.outputs.items()]
        for pump in pumps:
            pump.start()
        code = session.wait(_CONTAINER_CHECK)
        while code is None:
            if not self.target.running():
                session.kill()  # the container stopped: what was started in it goes too
            code = session.wait(_CONTAINER_CHECK)
        for pump in pumps:
            pump.join(_PUMP_WAIT)
        session.kill()  # what the command left running in the container's session goes with it
        for pump in pumps:
            pump.join(_PUMP_WAIT)
        session.close()
        if self.client_gone.is_set():
            return
        message = f"command terminated with exit code {code}" if self.channels.protocol == V5 else \
            f"error executing command [{' '.join(self.options['command'])}], exit code {code}"  # containerd's
        self._finish(_status(code, f"command terminated with non-zero exit code: {message}"))
        reader.join(_CLOSE_WAIT)

    def _finish(self, status: dict[str, Any]) -> None:
        if self.channels.protocol == V5 and status.get("reason") == "InternalError":
            # The translator wraps the kubelet's error Status in an InternalError of its own.
            status = _status(None, status["message"], internal=True)
        self.channels.finish(status)

    def _read_client(self, session: podexec.Session) -> None:
        while True:
            received = self.channels.receive()
            if received is None:
                break
            channel, data = received
            if channel == STDIN and self.options["stdin"]:
                session.write_stdin(data)
            elif channel == CLOSE and self.channels.protocol == V5 and data[:1] == bytes([STDIN]):
                session.close_stdin()
            elif channel == RESIZE:
                self._resize(session, data)
        # The client closed: the command's input ends; a client gone before the end takes the command with it.
        session.close_stdin()
        if not self.channels.socket.close_sent:
            self.client_gone.set()
            session.kill()

    @staticmethod
    def _resize(session: podexec.Session, data: bytes) -> None:
        for line in data.decode(errors="replace").splitlines():
            try:
                size = json.loads(line)
                session.resize(int(size["Width"]), int(size["Height"]))
            except (ValueError, KeyError, TypeError, OSError):
                continue

    def _pump(self, session: podexec.Session, channel: int, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 32768)
            except OSError:  # a terminal whose command ended (EIO), or a closed pipe
                return
            if not data:
                return
            try:
                self.channels.send(channel, data)
            except OSError:
                self.client_gone.set()
                session.kill()
                return
