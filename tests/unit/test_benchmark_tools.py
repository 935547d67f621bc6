"""The benchmarks' own tools: phases read from the json callback's timings, pictures that are valid SVG, and the
results table that keeps its history."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from benchmarks import phases, record, svg


def task(name: str, start: str, end: str, skipped: bool = False) -> dict:
    return {"task": {"name": name, "duration": {"start": f"2026-11-30T10:00:{start}Z", "end": f"2026-11-30T10:00:{end}Z"}},
            "hosts": {"localhost": {"skipped": True} if skipped else {"changed": False}}}


REPORT = {"plays": [{"tasks": [
    task("mlops.mlflow.upgrade : Preflight - version, release", "00.000000", "01.000000"),
    task("mlops.mlflow.upgrade : Check the cluster", "01.000000", "03.000000"),
    task("Rolling update (no schema change, no downtime)", "03.000000", "03.100000", skipped=True),
    task("mlops.mlflow.upgrade : Stop MLflow (no server may run on a schema it does not know)", "03.100000", "04.0"),
    task("mlops.mlflow.common : Wait until no MLflow pod runs", "04.000000", "06.500000"),
    task("mlops.mlflow.upgrade : Migrate the tracking and auth schemas with the new version", "06.5", "10.000000"),
]}]}


def test_phases_follow_the_marked_tasks_and_skip_phases_that_did_not_run():
    origin = phases.epoch("2026-11-30T10:00:00Z")
    found = phases.phases(REPORT, phases.UPGRADE, origin)
    assert found == [("preflight", 0.0, 3.0), ("stop", 3.1, 6.5), ("migrate", 6.5, 10.0)]
    assert phases.duration_of(found, "stop") == 3.4
    assert phases.duration_of(found, "rolling update") is None


def test_pictures_are_valid_svg_with_one_bar_per_phase(tmp_path: Path):
    timeline = tmp_path / "images" / "timeline.svg"  # the folder is created
    svg.upgrade_timeline(timeline, "upgrade", [("stop", 0.0, 2.0), ("migrate", 2.0, 5.0)],
                         [(0.0, True), (1.0, False), (4.0, True)])
    root = ET.parse(timeline).getroot()
    fills = [rect.get("fill") for rect in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert fills.count(svg.DOWN) == 1 and fills.count(svg.UP) == 2
    gantt = tmp_path / "gantt.svg"
    svg.phase_gantt(gantt, "recoveries", [("ours", [("restore", 0.0, 3.0), ("start", 3.0, 4.0)]),
                                          ("floor", [("restore", 0.0, 2.0)])])
    titles = [node.text for node in ET.parse(gantt).getroot().iter("{http://www.w3.org/2000/svg}title")]
    assert titles == ["restore: 3.0 s", "start: 1.0 s", "restore: 2.0 s"]


def test_results_rows_are_appended_after_the_older_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    table = tmp_path / "benchmarks.md"
    table.write_text(f"# t\n\n{record.TABLE_HEADER}\n|---|---|---|---|---|---|---|\n| old | row |\n\nafter\n")
    monkeypatch.setattr(record, "TABLE", table)
    record.append_rows("bench", [("case", "1.0 s", "2.0 s", "0.50", "note")])
    lines = table.read_text().splitlines()
    assert lines[4] == "| old | row |"
    assert lines[5].endswith("| bench | case | 1.0 s | 2.0 s | 0.50 | note |")
    assert lines[7] == "after"


def test_a_table_without_its_header_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    table = tmp_path / "benchmarks.md"
    table.write_text("# no table\n")
    monkeypatch.setattr(record, "TABLE", table)
    with pytest.raises(SystemExit, match="no results table"):
        record.append_rows("bench", [("case", "1", "2", "0.5", "")])
    assert table.read_text() == "# no table\n"
