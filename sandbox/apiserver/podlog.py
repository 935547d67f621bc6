"""`GET .../pods/<name>/log`: a container's output, as the kubelet serves it through the API server; and
`GET .../builds/<name>/log` (`oc logs build/<name>`): the log of the build's pod, `<build>-build`, container
`docker-build`, as openshift-apiserver serves it (the sandbox keeps that log without a Pod object).

Query parameters: `container`, `previous` (the run before the last restart), `tailLines`, `limitBytes`,
`timestamps` (ignored), `follow` (stream until the container stops, or the build finishes). While a container
waits to be restarted (or after it finished) its last run's output is served. The log files live in the
runtime's pod folders; without a runtime (stand-in controllers) there are no logs and the answer says so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import errors

_FOLLOW_POLL = 0.3
_BUILD_FINISHED = ("Complete", "Failed", "Error", "Cancelled")


def _log_file(runtime: Any, pod: dict[str, Any], container: str, previous: bool) -> Path:
    meta = pod["metadata"]
    folder = runtime.pod_log_dir(meta["namespace"], meta["name"])
    return folder / (f"{container}.previous.log" if previous else f"{container}.log")


def container_name(pod: dict[str, Any], asked: str | None) -> str:
    names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if asked:
        if asked not in names:
            raise errors.bad_request(f"container {asked} is not valid for pod {pod['metadata']['name']}")
        return asked
    if not names:
        raise errors.bad_request(f"a container name must be specified for pod {pod['metadata']['name']}")
    if len(names) != 1:
        raise errors.bad_request(f"a container name must be specified for pod {pod['metadata']['name']}, choose "
                                 f"one of: [{' '.join(names)}]")
    return names[0]


def _build_log(runtime: Any, api: Any, resource: Any, namespace: str, name: str) -> Path:
    api.get(resource, namespace, name)  # 404 for an unknown build
    # Before the build runs there is no file: openshift-apiserver's buildlog REST then answers empty content
    # (or, with follow, waits for the build to run), which _send does with a missing file.
    return runtime.build_log_file(namespace, name)


def serve(handler: Any, api: Any, resource: Any, namespace: str, name: str,  # pylint: disable=too-many-arguments
          query: dict[str, str]) -> None:
    runtime = getattr(handler.server, "runtime", None)
    if resource.kind == "Build":
        if runtime is None:
            raise errors.ApiError(501, "NotImplemented", "builds/log needs the sandbox runtime (started without "
                                                         "--stand-ins): the stand-in build controller builds nothing")
        path = _build_log(runtime, api, resource, namespace, name)
        _send(handler, path, query, lambda: _build_running(api, resource, namespace, name))
        return
    pod = api.get(api.registry.by_kind("v1", "Pod"), namespace, name)
    container = container_name(pod, query.get("container"))
    if runtime is None:
        raise errors.ApiError(501, "NotImplemented", "pods/log needs the sandbox runtime (started without "
                                                     "--stand-ins): the stand-in controllers run no containers")
    previous = query.get("previous") in ("true", "1")
    path = _log_file(runtime, pod, container, previous)
    if not path.exists():
        path = _log_file(runtime, pod, container, True)  # between runs: the last run's output, as kubelet does
    if not path.exists():
        if previous:
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        waiting = ((pod.get("status") or {}).get("containerStatuses") or [{}])[0].get("state", {}).get("waiting")
        reason = (waiting or {}).get("reason", "ContainerCreating")
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    _send(handler, path, query, lambda: _pod_running(api, pod, namespace, name))


def _build_running(api: Any, resource: Any, namespace: str, name: str) -> bool:
    current = api.store.get(resource.key, namespace, name)
    return current is not None and (current.get("status") or {}).get("phase") not in _BUILD_FINISHED


def _pod_running(api: Any, pod: dict[str, Any], namespace: str, name: str) -> bool:
    current = api.store.get(("", "pods"), namespace, name)
    if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"]:
        return False
    state = ((current.get("status") or {}).get("containerStatuses") or [{}])[0].get("state", {})
    return "terminated" not in state


def _send(handler: Any, path: Path, query: dict[str, str], running: Any) -> None:
    """The log at `path` (tailLines, limitBytes), or with `follow` streamed while `running()` holds."""
    data = path.read_bytes() if path.exists() else b""
    if query.get("tailLines"):
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-int(query["tailLines"]):]) if int(query["tailLines"]) > 0 else b""
    if query.get("limitBytes"):
        data = data[:int(query["limitBytes"])]
    if query.get("follow") not in ("true", "1"):
        handler._send(200, data, content_type="text/plain")  # pylint: disable=protected-access
        return
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler._status_code = 200  # pylint: disable=protected-access
    offset = path.stat().st_size if path.exists() else 0
    try:
        if data:
            handler._write_chunk(data)  # pylint: disable=protected-access
        while not handler.server.stopping.is_set():
            alive = running()
            size = path.stat().st_size if path.exists() else 0
            if size < offset:  # restarted: the file was rotated
                offset = 0
            if size > offset:
                with open(path, "rb") as stream:
                    stream.seek(offset)
                    chunk = stream.read(size - offset)
                offset = size
                handler._write_chunk(chunk)  # pylint: disable=protected-access
            if not alive:
                break
            time.sleep(_FOLLOW_POLL)
        handler._write_chunk(b"")  # pylint: disable=protected-access
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True
