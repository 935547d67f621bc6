"""Where a benchmark's result goes: its JSON file, and a row appended to the results table in docs/benchmarks.md."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
TABLE = REPO_ROOT / "docs" / "benchmarks.md"
TABLE_HEADER = "| date (UTC) | benchmark | case | ours | floor | ratio | notes |"


def write_json(name: str, result: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    result = {"measured_at": now(), **result}
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2), flush=True)
    return path


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")


def append_rows(benchmark: str, rows: list[tuple[str, str, str, str, str]]) -> None:
    """Append `(case, ours, floor, ratio, notes)` rows under the table's header (the table keeps its history:
    older rows stay, so a regression shows as a change between dated rows)."""
    text = TABLE.read_text(encoding="utf-8")
    if TABLE_HEADER not in text:
        raise SystemExit(f"{TABLE} has no results table (its header line must be: {TABLE_HEADER})")
    lines = text.splitlines()
    end = lines.index(TABLE_HEADER) + 2  # after the header and the |---| line
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    stamp = now()
    lines[end:end] = [f"| {stamp} | {benchmark} | " + " | ".join(row) + " |" for row in rows]
    TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def ratio(ours: float | None, floor: float | None) -> str:
    return "-" if not ours or not floor else f"{ours / floor:.2f}"


def fail(message: str) -> None:
    print(f"benchmark failed: {message}", file=sys.stderr)
    raise SystemExit(1)
