"""The audit log: every mutating request's body, one JSON line each, so tests can see what clients sent.

A real cluster's audit policy at `RequestResponse` level records the same thing; here it lets the reliability tests
search what the playbooks wrote to the API (outside Secrets) for secret values. Appending one line per write under a
lock is cheap next to the request itself; reads (GET, LIST, WATCH) are not recorded.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def describe(path: str) -> dict[str, str]:
    """Group, version, namespace, resource (plural), name and subresource of an API path, as far as it has them."""
    parts = [part for part in urlsplit(path).path.split("/") if part]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return {}
    found = {"group": group, "version": version}
    if len(rest) >= 3 and rest[0] == "namespaces":
        found["namespace"] = rest[1]
        rest = rest[2:]
    for key, value in zip(("resource", "name", "subresource"), rest):
        found[key] = value
    return found


class AuditLog:
    """Appends `{"time", "verb", "path", "resource", ..., "code", "body"}` lines to one file (mode 0600: the bodies
    of Secrets are in it)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(descriptor, "a", encoding="utf-8")

    def record(self, verb: str, path: str, code: int, content_type: str, body: bytes,
               user_agent: str = "") -> None:
        if verb not in MUTATING:
            return
        entry: dict[str, Any] = {
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "verb": verb, "path": path, **describe(path), "code": code, "userAgent": user_agent,
            "contentType": content_type,
            # Text as sent; protobuf stays readable where it carries strings (non-UTF-8 bytes escaped).
            "body": body.decode("utf-8", "backslashreplace"),
        }
        line = json.dumps(entry) + "\n"
        with self._lock:
            if not self._file.closed:  # requests still being answered while the server stops
                self._file.write(line)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
