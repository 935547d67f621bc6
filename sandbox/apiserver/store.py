"""The object store: every object in memory, one resourceVersion sequence, a change log for watches.

Writes are serialised by one lock (simple, and fast enough for a test cluster). Watchers read the change log
from a resourceVersion on; a resourceVersion older than the log answers 410 Gone, as etcd compaction does.
Optionally the store is snapshotted to a JSON file and reloaded at start.
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

Key = tuple[str, str]  # (group, plural)
_LOG_SIZE = 20000


@dataclass(frozen=True)
class Event:
    resource_version: int
    type: str  # ADDED, MODIFIED, DELETED
    key: Key
    obj: dict[str, Any]


class Store:
    def __init__(self, snapshot: Path | None = None):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[Key, dict[tuple[str, str], dict[str, Any]]] = collections.defaultdict(dict)
        self._revision = 0
        # Consecutive resourceVersions, oldest first (every write takes the next one), so an offset finds a
        # revision without scanning.
        self._log: list[Event] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._snapshot = snapshot
        self._dirty = False
        if snapshot is not None and snapshot.is_file():
            self._load(snapshot)

    # --- reads ---------------------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        with self.lock:
            return self._revision

    def get(self, key: Key, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self._objects[key].get((namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def list(self, key: Key, namespace: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Objects of one resource (in one namespace, or all when None), and the revision they were read at."""
        with self.lock:
            items = [copy.deepcopy(obj) for (ns, _), obj in sorted(self._objects[key].items())
                     if namespace is None or ns == namespace]
            return items, self._revision

    def all_objects(self) -> Iterator[tuple[Key, dict[str, Any]]]:
        with self.lock:
            snapshot = [(key, copy.deepcopy(obj)) for key, objects in self._objects.items()
                        for obj in objects.values()]
        yield from snapshot

    def owned_by(self, owner_uid: str) -> list[tuple[Key, dict[str, Any]]]:
        """Copies of the objects with an ownerReference to `owner_uid` (the rest is scanned, not copied: the
        garbage collector asks on every delete, and a CRD's schema is large)."""
        with self.lock:
            return [(key, copy.deepcopy(obj)) for key, objects in self._objects.items() for obj in objects.values()
                    if any(ref.get("uid") == owner_uid for ref in obj["metadata"].get("ownerReferences") or ())]

    def uids(self) -> set[str]:
        with self.lock:
            return {obj["metadata"].get("uid") for objects in self._objects.values() for obj in objects.values()}

    # --- writes (the caller holds `lock` across read-modify-write) ---------------------------------------------

    def next_revision(self) -> int:
        with self.lock:
            self._revision += 1
            return self._revision

    def put(self, key: Key, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        """Store `obj` under a new resourceVersion; returns the stored copy."""
        with self.lock:
            revision = self.next_revision()
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(revision)
            meta = obj["metadata"]
            self._objects[key][(meta.get("namespace", ""), meta["name"])] = obj
            self._emit(Event(revision, event_type, key, obj))
            return copy.deepcopy(obj)

    def remove(self, key: Key, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects[key].pop((namespace, name), None)
            if obj is None:
                return None
            revision = self.next_revision()
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(revision)
            self._emit(Event(revision, "DELETED", key, obj))
            return copy.deepcopy(obj)

    def _emit(self, event: Event) -> None:
        self._log.append(event)
        if len(self._log) > 2 * _LOG_SIZE:
            del self._log[:_LOG_SIZE]
        self._dirty = True
        self.changed.notify_all()
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # pylint: disable=broad-exception-caught  # a listener must not break a write
                LOG.exception("store listener failed")

    # --- watch -------------------------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call `listener` (under the store lock: keep it quick) for every change."""
        with self.lock:
            self._listeners.append(listener)

    def events_since(self, revision: int) -> list[Event] | None:
        """Changes after `revision`, or None when the log no longer reaches back that far."""
        with self.lock:
            if revision >= self._revision:
                return []
            if not self._log or self._log[0].resource_version > revision + 1:
                return None
            return self._log[revision + 1 - self._log[0].resource_version:]

    def wait_for_change(self, revision: int, timeout: float) -> None:
        with self.changed:
            if self._revision <= revision:
                self.changed.wait(timeout)

    # --- snapshot ----------------------------------------------------------------------------------------------

    def save(self) -> None:
        if self._snapshot is None:
            return
        with self.lock:
            if not self._dirty:
                return
            data = {"revision": self._revision,
                    "objects": [{"group": key[0], "plural": key[1], "object": obj}
                                for key, objects in self._objects.items() for obj in objects.values()]}
            self._dirty = False
        temporary = self._snapshot.with_suffix(".tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, self._snapshot)

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self._revision = data["revision"]
        for entry in data["objects"]:
            obj = entry["object"]
            meta = obj["metadata"]
            self._objects[(entry["group"], entry["plural"])][(meta.get("namespace", ""), meta["name"])] = obj
        LOG.info("loaded %d objects from %s", len(data["objects"]), path)
