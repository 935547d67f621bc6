"""The xdist scheduler of `make test` (tests/support/scheduling.py), driven as xdist's controller drives it."""

from __future__ import annotations

import types

import pytest

from tests.support import scheduling
from tests.support.scheduling import LongestFirstScheduling, work_unit

COLLECTION = [
    "tests/unit/test_a.py::test_one",
    "tests/unit/test_a.py::test_two",
    "tests/unit/test_b.py::test_one",
    "tests/unit/test_c.py::test_one",
    "tests/e2e/test_flows.py::test_short_scenario",
    "tests/e2e/test_flows.py::test_long_scenario",
    "tests/live/test_installation_lifecycle.py::test_first",
    "tests/live/test_installation_lifecycle.py::test_second",
    "tests/sandbox/test_runtime_deploy.py::test_first",
    "tests/sandbox/test_runtime_deploy.py::test_second",
]
DURATIONS = {
    "tests/e2e/test_flows.py::test_short_scenario": 100.0,
    "tests/e2e/test_flows.py::test_long_scenario": 900.0,
    "tests/live/test_installation_lifecycle.py::test_first": 200.0,
    "tests/live/test_installation_lifecycle.py::test_second": 50.0,
    "tests/sandbox/test_runtime_deploy.py::test_first": 120.0,
    "tests/sandbox/test_runtime_deploy.py::test_second": 10.0,
}


class Worker:
    """What the scheduler sees of an xdist worker: an id, and the test indexes sent to it."""

    def __init__(self, number: int):
        self.gateway = types.SimpleNamespace(id=f"gw{number}")
        self.shutting_down = False
        self.sent: list[list[str]] = []

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append([COLLECTION[index] for index in indexes])

    def shutdown(self) -> None:
        self.shutting_down = True


@pytest.fixture(name="start")
def fixture_start(monkeypatch):
    monkeypatch.setattr(scheduling, "load_durations", lambda: dict(DURATIONS))

    def start(workers: int) -> tuple[LongestFirstScheduling, list[Worker]]:
        options = {"tx": [f"{workers}*popen"], "numprocesses": workers, "dist": "loadscope"}
        config = types.SimpleNamespace(option=types.SimpleNamespace(loadscopereorder=False), getvalue=options.get)
        scheduler = LongestFirstScheduling(config)
        nodes = [Worker(number) for number in range(workers)]
        for node in nodes:
            scheduler.add_node(node)
        for node in nodes:
            scheduler.add_node_collection(node, list(COLLECTION))
        scheduler.schedule()
        return scheduler, nodes
    return start


def test_units_are_modules_but_e2e_scenarios_go_one_by_one_unless_they_share_an_installation():
    assert work_unit("tests/unit/test_a.py::test_two") == "tests/unit/test_a.py"
    assert work_unit("tests/sandbox/test_runtime_deploy.py::test_first") == "tests/sandbox/test_runtime_deploy.py"
    assert work_unit("tests/e2e/test_flows.py::test_long_scenario") == "tests/e2e/test_flows.py::test_long_scenario"
    assert work_unit("tests/live/test_installation_lifecycle.py::test_first") == "tests/live/test_installation_lifecycle.py"


def test_the_long_modules_of_the_other_layers_that_share_nothing_go_one_by_one():
    assert work_unit("tests/chart/test_chart_runs_for_real.py::test_a[3.5.0]") == \
        "tests/chart/test_chart_runs_for_real.py::test_a[3.5.0]"
    assert work_unit("tests/integration/test_mlflow_migrate.py::test_b") == "tests/integration/test_mlflow_migrate.py::test_b"
    # A module with a module-scoped fixture (a stand-in sandbox) stays one unit.
    assert work_unit("tests/integration/test_lease_lock.py::test_c") == "tests/integration/test_lease_lock.py"


def test_the_costliest_units_start_first_each_with_a_short_unit_queued_behind(start):
    first, second, third = start(3)[1]
    assert first.sent == [["tests/e2e/test_flows.py::test_long_scenario"],
                          ["tests/unit/test_a.py::test_one", "tests/unit/test_a.py::test_two"]]
    assert second.sent == [["tests/live/test_installation_lifecycle.py::test_first",
                            "tests/live/test_installation_lifecycle.py::test_second"], ["tests/unit/test_b.py::test_one"]]
    assert third.sent == [["tests/sandbox/test_runtime_deploy.py::test_first",
                           "tests/sandbox/test_runtime_deploy.py::test_second"], ["tests/unit/test_c.py::test_one"]]


def test_a_worker_never_holds_two_long_units_while_short_ones_are_left(start):
    scheduler, (worker,) = start(1)
    assert worker.sent == [["tests/e2e/test_flows.py::test_long_scenario"],
                           ["tests/unit/test_a.py::test_one", "tests/unit/test_a.py::test_two"]]
    # The long scenario finishes; the worker now runs a short unit and gets the next long one behind it.
    scheduler.mark_test_complete(worker, COLLECTION.index("tests/e2e/test_flows.py::test_long_scenario"))
    assert worker.sent[-1] == ["tests/live/test_installation_lifecycle.py::test_first",
                               "tests/live/test_installation_lifecycle.py::test_second"]
    scheduler.mark_test_complete(worker, COLLECTION.index("tests/unit/test_a.py::test_one"))
    scheduler.mark_test_complete(worker, COLLECTION.index("tests/unit/test_a.py::test_two"))
    # Busy with a long unit again: what is queued next is short, not the long e2e scenario still waiting.
    assert worker.sent[-1] == ["tests/unit/test_b.py::test_one"]


def test_a_test_not_in_the_durations_file_is_costed_by_its_layer():
    assert scheduling.expected_seconds("tests/e2e/test_new.py::test_x", {}) == 300.0
    assert scheduling.expected_seconds("tests/unit/test_new.py::test_x", {}) == 1.0
    assert scheduling.expected_seconds("tests/unit/test_new.py::test_x", {"tests/unit/test_new.py::test_x": 7.5}) == 7.5
