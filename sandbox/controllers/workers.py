"""One background thread per object at a time, for controllers whose work outlasts a reconcile (a build, a backup).

A reconcile claims the object; a second reconcile while the work runs finds it claimed and returns, as a real
controller's work queue never hands the same key to two workers. The claim ends when the work does, also on error.
"""

from __future__ import annotations

import threading
from typing import Any, Callable


class Workers:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self._running: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def claim(self, namespace: str, name: str) -> bool:
        """True when the object was free and is now this caller's; then `run` must follow."""
        with self._lock:
            if (namespace, name) in self._running:
                return False
            self._running.add((namespace, name))
            return True

    def run(self, namespace: str, name: str, work: Callable[..., Any], *args: Any) -> None:
        """Run `work(*args)` in a thread for the claimed object and release the claim when it ends."""
        def body():
            try:
                work(*args)
            finally:
                with self._lock:
                    self._running.discard((namespace, name))
        threading.Thread(target=body, daemon=True, name=f"{self.prefix}-{namespace}/{name}").start()
