"""read_server's paging and grouping: the runs of many experiments are read in a few runs/search calls (each
authenticated call costs the server a password hash check, inside a recovery's outage) and counted under their own
experiment. The calls are answered the way MLflow's REST API pages (next_page_token); the module against a real
server is tests/integration/test_mlflow_server_info.py."""

from __future__ import annotations

from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_api import EXPERIMENTS_PER_RUN_SEARCH, read_server


class Api:
    """Experiments 0..n-1, experiment i holding i % 3 runs, served in pages of `page` items."""

    def __init__(self, experiments: int, page: int):
        self.experiments = [{"experiment_id": str(i), "name": f"exp-{i}"} for i in range(experiments)]
        self.runs = [{"info": {"experiment_id": str(i), "start_time": 1_700_000_000_000 + i * 1000 + r}}
                     for i in range(experiments) for r in range(i % 3)]
        self.page = page
        self.run_searches: list[list[str]] = []

    def _paged(self, items, body, key):
        start = int(body.get("page_token") or 0)
        answer = {key: items[start:start + self.page]}
        if start + self.page < len(items):
            answer["next_page_token"] = str(start + self.page)
        return answer

    def __call__(self, endpoint, body):
        if endpoint == "experiments/search":
            return self._paged(self.experiments, body, "experiments")
        if not body.get("page_token"):
            self.run_searches.append(body["experiment_ids"])
        wanted = set(body["experiment_ids"])
        return self._paged([run for run in self.runs if run["info"]["experiment_id"] in wanted], body, "runs")


def test_runs_of_many_experiments_are_read_in_few_searches_and_counted_per_experiment():
    api = Api(experiments=2 * EXPERIMENTS_PER_RUN_SEARCH + 5, page=37)
    result = read_server(api, "3.5.0")
    assert len(api.run_searches) == 3
    searched = sorted(eid for search in api.run_searches for eid in search)
    assert searched == sorted(experiment["experiment_id"] for experiment in api.experiments)
    assert result["experiments"] == len(api.experiments)
    assert result["runs"] == len(api.runs)
    assert result["runs_per_experiment"] == {f"exp-{i}": i % 3 for i in range(len(api.experiments))}
    # Experiment 203 (204 holds no run) has the newest run, 203 s and 1 ms after 2023-11-14T22:13:20Z.
    assert result["newest_run_start_time"] == "2023-11-14T22:16:43.001000Z"


def test_a_server_without_experiments_makes_no_run_search():
    api = Api(experiments=0, page=10)
    result = read_server(api, "3.5.0")
    assert api.run_searches == []
    assert (result["experiments"], result["runs"], result["newest_run_start_time"]) == (0, 0, None)
