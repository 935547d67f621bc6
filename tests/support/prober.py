"""The client-visible outage of an MLflow server: what a user polling it sees while a flow runs."""

from __future__ import annotations

import threading
import time

import requests

from tests.support.mlflow_client import MlflowClient

# A new connection per probe, as a user's request through the router gets.
FRESH = {"Connection": "close"}


class Prober:
    """Polls /health every 100 ms and an authenticated API call every second in a thread; counts failures and
    their windows.

    The authenticated call is the expensive one: MLflow checks the password's scrypt hash on every request
    (werkzeug's default, about 0.1 s of CPU each), so calling it at 10 Hz kept a whole core busy hashing - on
    this 2-core machine, beside another scenario, that is the test harness starving the server it measures.
    /health goes through the same Route, Service and pod, so an outage is still seen to the 100 ms; the
    authenticated call proves, each second, that the server behind it still reaches its database and users.
    """

    def __init__(self, client: MlflowClient, interval: float = 0.1, api_interval: float = 1.0):
        self.client = client
        self.interval = interval
        self.api_interval = api_interval
        self.results: list[tuple[float, bool]] = []
        self.errors: list[str] = []
        self.retried: list[str] = []
        self.api_calls = 0
        self._last_api = float("-inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _probe(self, with_api: bool) -> str | None:
        """One probe: None when every call answered 200, else what went wrong."""
        try:
            # A slow answer on a loaded machine is still an answer: only refusals and errors are downtime.
            # A new connection per probe, as a user's request through the router gets: a kept-alive
            # connection to a pod that a rolling update retires measures the sandbox's TCP proxy, not MLflow.
            health = self.client.session.get(f"{self.client.url}/health", timeout=15, headers=FRESH)
            if health.status_code != 200:
                return f"HTTP {health.status_code} on /health: {health.text[:200]}"
            if not with_api:
                return None
            self.api_calls += 1
            api = self.client.api("GET", "experiments/search?max_results=1", headers=FRESH)
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        if api.status_code == 200:
            return None
        return f"HTTP {api.status_code} on the authenticated call: {api.text[:200]}"

    def _run(self) -> None:
        while not self._stop.is_set():
            with_api = time.monotonic() - self._last_api >= self.api_interval
            if with_api:
                self._last_api = time.monotonic()
            error = self._probe(with_api)
            if error is not None:
                # MLflow's clients retry a failed request with a short back-off (MLFLOW_HTTP_REQUEST_MAX_RETRIES);
                # one quick retry is what a user sees. Retried probes are counted and reported separately.
                time.sleep(0.2)
                self.retried.append(error)
                error = self._probe(with_api)
            if error is not None:
                self.errors.append(error)
            self.results.append((time.monotonic(), error is None))
            time.sleep(self.interval)

    @property
    def failures(self) -> int:
        return sum(1 for result in self.results if not result[1])

    def outages(self) -> list[tuple[float, float]]:
        """Each client-visible outage: from its first failed probe to the next successful one (or the last probe)."""
        windows, start = [], None
        for moment, ok in self.results:
            if not ok and start is None:
                start = moment
            elif ok and start is not None:
                windows.append((start, moment))
                start = None
        if start is not None:
            windows.append((start, self.results[-1][0]))
        return windows

    def longest_outage(self) -> float:
        return max((end - start for start, end in self.outages()), default=0.0)
