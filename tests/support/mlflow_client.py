"""A small REST client of an MLflow tracking server (basic-auth app): log runs and read them back, as a user's
script would. Knows nothing of where the server runs (a local process, the sandbox, a real cluster)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import requests

ADMIN_USERNAME = "admin"
# MLflow 3.16+ refuses the old default admin password and wants at least 12 characters.
ADMIN_PASSWORD = "Adm1n-test-Passw0rd"


@dataclass
class MlflowClient:
    url: str
    admin: tuple[str, str] = (ADMIN_USERNAME, ADMIN_PASSWORD)
    session: requests.Session = field(default_factory=requests.Session)

    def api(self, method: str, endpoint: str, auth: tuple[str, str] | None = None, **kwargs) -> requests.Response:
        """Call `/api/2.0/mlflow/<endpoint>` as the admin (or `auth`)."""
        return self.session.request(method, f"{self.url}/api/2.0/mlflow/{endpoint}", auth=auth or self.admin,
                                    timeout=30, **kwargs)

    def call(self, method: str, endpoint: str, **kwargs) -> dict:
        response = self.api(method, endpoint, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {endpoint}: HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def create_experiment(self, name: str) -> str:
        return self.call("POST", "experiments/create", json={"name": name})["experiment_id"]

    def experiment_id(self, name: str) -> str:
        return self.call("GET", "experiments/get-by-name", params={"experiment_name": name})["experiment"][
            "experiment_id"]

    def log_run(self, experiment_id: str, name: str, params: dict[str, str] | None = None,
                metrics: dict[str, float] | None = None) -> str:
        """Create a finished run with params and metrics; return its id."""
        now = int(time.time() * 1000)
        run = self.call("POST", "runs/create", json={"experiment_id": experiment_id, "run_name": name,
                                                     "start_time": now})["run"]
        run_id = run["info"]["run_id"]
        batch = {
            "run_id": run_id,
            "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
            "metrics": [{"key": k, "value": v, "timestamp": now, "step": 0} for k, v in (metrics or {}).items()],
        }
        self.call("POST", "runs/log-batch", json=batch)
        self.call("POST", "runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": now + 1})
        return run_id

    def search_runs(self, experiment_id: str) -> list[dict]:
        body = {"experiment_ids": [experiment_id], "max_results": 1000}
        return self.call("POST", "runs/search", json=body).get("runs", [])

    def run_names(self, experiment_id: str) -> list[str]:
        return sorted(run["info"]["run_name"] for run in self.search_runs(experiment_id))

    def version_string(self) -> str:
        response = self.session.get(f"{self.url}/version", auth=self.admin, timeout=10)
        response.raise_for_status()
        return response.text.strip()
