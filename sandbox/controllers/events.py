"""Events a controller records about an object (`kubectl describe`, `kubectl get events`), as client-go's
EventRecorder writes them (staging/src/k8s.io/client-go/tools/record/event.go): a core/v1 Event naming the object,
and the same event again is the same Event with its `count` raised and `lastTimestamp` moved (the
EventCorrelator's aggregation, events_cache.go)."""

from __future__ import annotations

import hashlib
from typing import Any

from ..timestamps import now
from .client import ApiError


def record(client: Any, obj: dict[str, Any], kind: str, reason: str, message: str) -> None:
    """Record a `kind` ("Normal", "Warning") event about `obj` from the client's controller; never fails the
    caller (an event is best effort, as client-go's is)."""
    meta = obj["metadata"]
    key = "\0".join((client.manager, meta.get("uid", ""), kind, reason, message))
    name = f"{meta['name']}.{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    stamp = now()
    try:
        earlier = client.get("v1", "Event", meta["namespace"], name)
        if earlier is not None:
            client.update(dict(earlier, count=earlier.get("count", 1) + 1, lastTimestamp=stamp))
            return
        client.create({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"],
                               "namespace": meta["namespace"], "uid": meta.get("uid", ""),
                               "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason, "message": message, "type": kind, "count": 1,
            "firstTimestamp": stamp, "lastTimestamp": stamp, "source": {"component": client.manager},
            "reportingComponent": client.manager, "reportingInstance": ""})
    except ApiError:
        pass  # the namespace is going, or another write raced this one: the event is lost, as it may be
