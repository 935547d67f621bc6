"""Container probes (httpGet, tcpSocket, exec) with kubelet's counting of successes and failures.

Periods longer than `MAX_PERIOD` are shortened to it, and the failure threshold raised so that the time a
container is given before it counts as failed stays the same (waits end sooner, verdicts are unchanged).
"""

from __future__ import annotations

import http.client
import math
import socket
import subprocess
import time
from typing import Any

from .podspec import port_number

MAX_PERIOD = 2.0


class Probe:
    def __init__(self, spec: dict[str, Any] | None, pod: dict[str, Any], address: str, env: dict[str, str],
                 started_at: float):
        self.spec = spec or {}
        self.pod = pod
        self.address = address
        self.env = env
        period = float(self.spec.get("periodSeconds", 10))
        self.period = min(period, MAX_PERIOD)
        self.failure_threshold = math.ceil(period * self.spec.get("failureThreshold", 3) / self.period)
        self.success_threshold = self.spec.get("successThreshold", 1)
        self.timeout = float(self.spec.get("timeoutSeconds", 1))
        self.next_at = started_at + float(self.spec.get("initialDelaySeconds", 0))
        self.failures = 0
        self.successes = 0
        self.last_message = ""

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def run(self, now: float) -> bool | None:
        """Probe once if due; return True/False when the verdict is reached this time, None otherwise."""
        if not self.due(now):
            return None
        self.next_at = now + self.period
        ok, self.last_message = self._check()
        if ok:
            self.failures = 0
            self.successes += 1
            return True if self.successes >= self.success_threshold else None
        self.successes = 0
        self.failures += 1
        return False if self.failures >= self.failure_threshold else None

    def _check(self) -> tuple[bool, str]:
        spec = self.spec
        try:
            if "httpGet" in spec:
                get = spec["httpGet"]
                port = port_number(self.pod, get.get("port"))
                connection = http.client.HTTPConnection(self.address, port, timeout=self.timeout)
                try:
                    headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
                    connection.request("GET", get.get("path", "/"), headers=headers)
                    code = connection.getresponse().status
                finally:
                    connection.close()
                return 200 <= code < 400, f"HTTP probe failed with statuscode: {code}"
            if "tcpSocket" in spec:
                port = port_number(self.pod, spec["tcpSocket"].get("port"))
                with socket.create_connection((self.address, port), timeout=self.timeout):
                    return True, ""
            if "exec" in spec:
                result = subprocess.run(spec["exec"].get("command") or ["false"], env=self.env, capture_output=True,
                                        timeout=self.timeout, check=False)
                return result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")[-500:]
        except (OSError, http.client.HTTPException, subprocess.TimeoutExpired) as exc:
            return False, f"probe failed: {exc}"
        return False, "the sandbox supports httpGet, tcpSocket and exec probes"


def wait_step(probes: list[Probe]) -> float:
    """How long to sleep before the next probe is due (bounded, so exits are noticed quickly)."""
    now = time.monotonic()
    soonest = min((p.next_at for p in probes), default=now + 0.5)
    return max(0.05, min(0.5, soonest - now))
