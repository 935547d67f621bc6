"""How `make test` spreads the suite over pytest-xdist workers (tests/README.md, "Concurrency").

Each worker is a pytest process with its own session fixtures: its own sandbox, S3 server and scratch folder, so
two workers never share a cluster or a bucket. Within a worker, tests run one after the other.

Work units: a test module is one unit (its module-scoped fixtures, e.g. a deployed stack, are made once, and its
tests keep their order), except under `tests/e2e/`, where every test deploys its own installation and is a unit
of its own (the scenarios that share one installation are a module of `tests/live/`: one unit). The long
modules of the chart and integration layers whose tests share nothing (`SPLIT_MODULES`) are split the same way.

Order: the e2e scenarios and the sandbox runtime modules take minutes and wait on real processes; the rest are
hundreds of short tests. xdist's own schedulers can queue a long unit behind another long unit on one worker
while another worker runs short ones. This one:

- starts the costliest unit first (longest processing time first), costed by the durations in
  `tests/durations.json` (`make test-durations` writes it); a test not listed there is costed by its layer
  (`DEFAULT_COSTS`);
- gives a worker at most one long unit at a time: an xdist worker starts a test only once it has been sent the
  next one, so what is sent behind a long unit is a short one.
"""

from __future__ import annotations

import json
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

DURATIONS_FILE = Path(__file__).resolve().parents[1] / "durations.json"
# A unit expected to take this long or longer is "long".
LONG_SECONDS = 20.0
# Costs of tests not yet in tests/durations.json, by the start of their node id (first match wins).
DEFAULT_COSTS = (
    ("tests/e2e/", 300.0),
    ("tests/live/", 100.0),
    ("tests/sandbox/test_runtime_", 60.0),
    ("tests/chart/test_chart_runs_for_real.py", 30.0),
    ("", 1.0),
)
# Long modules of the other layers whose tests share nothing (function-scoped fixtures only, no order between them):
# a unit per test, so that their minutes spread over the workers (`make test-quick` is bounded by them otherwise).
SPLIT_MODULES = (
    "tests/chart/test_chart_runs_for_real.py",
    "tests/integration/test_mlflow_migrate.py",
    "tests/integration/test_pg_recover_prepare.py",
    "tests/integration/test_fixture_mlflow.py",
)


def load_durations(path: Path = DURATIONS_FILE) -> dict[str, float]:
    try:
        return {str(key): float(value) for key, value in json.loads(path.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError):
        return {}


def expected_seconds(nodeid: str, durations: dict[str, float]) -> float:
    """Expected seconds for one test (setup, call and teardown)."""
    if nodeid in durations:
        return durations[nodeid]
    return next(cost for prefix, cost in DEFAULT_COSTS if nodeid.startswith(prefix))


def work_unit(nodeid: str) -> str:
    """The unit a test is scheduled in: its module, or itself for an e2e scenario."""
    module = nodeid.split("::", 1)[0]
    if module.startswith("tests/e2e/"):
        return nodeid
    if module in SPLIT_MODULES:
        return nodeid
    return module


class LongestFirstScheduling(LoadScopeScheduling):
    """Units longest first; never a long unit queued behind a long unit on one worker."""

    def __init__(self, config, log=None):
        super().__init__(config, log)
        self.durations = load_durations()
        self.cost: dict[str, float] = {}

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)

    def schedule(self) -> None:
        if not self.cost and self.registered_collections:
            # Every worker collected the same tests (LoadScopeScheduling checks it next and stops if not).
            for nodeid in next(iter(self.registered_collections.values())):
                unit = work_unit(nodeid)
                self.cost[unit] = self.cost.get(unit, 0.0) + expected_seconds(nodeid, self.durations)
        # LoadScopeScheduling fills `workqueue` in collection order and assigns from it through _assign_work_unit,
        # which picks by cost (below).
        super().schedule()

    def _is_long(self, unit: str) -> bool:
        return self.cost.get(unit, 0.0) >= LONG_SECONDS

    def _runs_long_unit(self, node) -> bool:
        return any(self._is_long(unit) and not all(done.values())
                   for unit, done in self.assigned_work.get(node, {}).items())

    def _assign_work_unit(self, node) -> None:
        assert self.workqueue
        units = list(self.workqueue)
        costliest = max(units, key=lambda unit: self.cost.get(unit, 0.0))
        if self._runs_long_unit(node):
            chosen = next((unit for unit in units if not self._is_long(unit)), costliest)
        else:
            chosen = costliest
        tests = self.workqueue.pop(chosen)
        self.assigned_work.setdefault(node, {})[chosen] = tests
        collection = self.registered_collections[node]
        node.send_runtest_some([collection.index(nodeid) for nodeid, done in tests.items() if not done])
