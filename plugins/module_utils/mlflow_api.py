# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read what a running MLflow tracking server holds, through its REST API (works with 2.x and 3.x servers)."""

from __future__ import annotations

import datetime

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

# Page sizes the REST API accepts for every supported version.
EXPERIMENTS_PAGE = 1000
RUNS_PAGE = 1000
# Experiments whose runs one runs/search reads (its experiment_ids); a bounded IN list on the server's side.
EXPERIMENTS_PER_RUN_SEARCH = 100


class MlflowApiError(CollectionError):
    """The server answered with something other than success."""

    def __init__(self, endpoint, status, body):
        self.endpoint = endpoint
        self.status = status
        super().__init__(f"{endpoint}: HTTP {status}: {body[:300]}")


def collect_pages(fetch, key, body):
    """Call `fetch(body)` page after page (MLflow's next_page_token) and concatenate the items under `key`."""
    items = []
    token = None
    while True:
        page_body = dict(body)
        if token:
            page_body["page_token"] = token
        page = fetch(page_body)
        items.extend(page.get(key, []))
        token = page.get("next_page_token")
        if not token:
            return items


def summarise(version, experiments, runs_by_experiment):
    """The numbers a person compares before and after an upgrade or recovery."""
    newest = None
    for runs in runs_by_experiment.values():
        for run in runs:
            start = int(run.get("info", {}).get("start_time") or 0)
            newest = start if newest is None or start > newest else newest
    return {
        "version": version,
        "experiments": len(experiments),
        "runs": sum(len(runs) for runs in runs_by_experiment.values()),
        "newest_run_start_time": (
            datetime.datetime.fromtimestamp(newest / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if newest is not None else None),
        "runs_per_experiment": {name: len(runs) for name, runs in sorted(runs_by_experiment.items())},
    }


def read_server(call, version_text):
    """Summarise a server: `call(endpoint, body)` posts to /api/2.0/mlflow/<endpoint> and returns the JSON."""
    experiments = collect_pages(lambda body: call("experiments/search", body), "experiments",
                                {"max_results": EXPERIMENTS_PAGE, "view_type": "ALL"})
    # The runs of many experiments per search, grouped back by their experiment: a verification inside an outage
    # makes a few calls, not one per experiment (each authenticated call costs the server a password hash check).
    names = {experiment["experiment_id"]: experiment["name"] for experiment in experiments}
    runs_by_experiment = {name: [] for name in names.values()}
    ids = sorted(names)
    for start in range(0, len(ids), EXPERIMENTS_PER_RUN_SEARCH):
        chunk = ids[start:start + EXPERIMENTS_PER_RUN_SEARCH]
        runs = collect_pages(lambda body, eids=chunk: call("runs/search", dict(body, experiment_ids=eids)),
                             "runs", {"max_results": RUNS_PAGE, "run_view_type": "ALL"})
        for run in runs:
            runs_by_experiment[names[run["info"]["experiment_id"]]].append(run)
    return summarise(version_text, experiments, runs_by_experiment)
