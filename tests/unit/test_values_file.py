"""Values files edited in place: only the set values change, comments, order, quoting and indentation stay."""

import difflib
from pathlib import Path

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils.values_file import (
    ValuesDocument, ValuesFileError, detect_indentation)

CHART_VALUES = Path(__file__).resolve().parents[2] / "charts" / "mlflow" / "values.yaml"

HAND_WRITTEN = """\
---
# Production values of the MLflow release.  Keep this header!
mlflow:
    replicas: 3        # three pods behind the Route
    image:
        tag: '3.5.0'
    extraArgs:
    -   --gunicorn-opts
    -   "--timeout 120"
postgresql:
    # the live cluster
    clusterName: "pg-cluster-v1"
    parameters: {max_connections: "200"}
recovery:
    serverName: ''
    targetTime: ""   # empty: latest
    secretName: app-stable
backup:
    s3:
        destinationPath: s3://mlflow-backups/mlflow-pg   # shared by old and new clusters
"""


def changed_lines(before: str, after: str) -> list:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def prepare(document):
    document.set("postgresql.clusterName", "pg-cluster-v2")
    document.set("recovery.serverName", "pg-cluster-v1")
    document.set("recovery.targetTime", "2026-11-20T21:45:00Z", quote=True)
    document.set("mlflow.replicas", 0)


def test_hand_written_file_keeps_everything_but_the_four_values():
    document = ValuesDocument(HAND_WRITTEN)
    prepare(document)
    after = document.dump()
    # A comment after a value that grew keeps one space before it (ruamel moves it right, never drops it).
    changes = changed_lines(HAND_WRITTEN, after)
    assert [line for line in changes if line.startswith("-")] == [
        "-    replicas: 3        # three pods behind the Route",
        "-    clusterName: \"pg-cluster-v1\"",
        "-    serverName: ''",
        "-    targetTime: \"\"   # empty: latest",
    ]
    assert [line for line in changes if line.startswith("+")] == [
        "+    replicas: 0        # three pods behind the Route",
        "+    clusterName: \"pg-cluster-v2\"",
        "+    serverName: 'pg-cluster-v1'",
        "+    targetTime: \"2026-11-20T21:45:00Z\" # empty: latest",
    ]


@pytest.mark.skipif(not CHART_VALUES.exists(), reason="the chart's values.yaml is not in this checkout")
def test_chart_values_file_round_trips_with_only_the_four_lines_changed():
    text = CHART_VALUES.read_text(encoding="utf-8")
    document = ValuesDocument(text)
    assert document.dump() == text, "an untouched round trip must give the file back byte for byte"
    prepare(document)
    changes = changed_lines(text, document.dump())
    assert len(changes) == 8
    assert {line[1:].split(":")[0].strip() for line in changes} == {
        "replicas", "clusterName", "serverName", "targetTime"}


def test_plain_gives_plain_python():
    plain = ValuesDocument(HAND_WRITTEN).plain()
    assert plain["postgresql"] == {"clusterName": "pg-cluster-v1", "parameters": {"max_connections": "200"}}
    assert type(plain["postgresql"]["clusterName"]) is str  # pylint: disable=unidiomatic-typecheck
    assert plain["mlflow"]["replicas"] == 3 and type(plain["mlflow"]["replicas"]) is int  # pylint: disable=unidiomatic-typecheck


def test_unquoted_timestamp_reads_as_a_string_with_its_zone():
    plain = ValuesDocument("recovery:\n  targetTime: 2026-11-20T23:45:00+02:00\n").plain()
    assert plain["recovery"]["targetTime"] == "2026-11-20T23:45:00+02:00"


def test_missing_sections_are_added_at_the_end():
    text = "# only the cluster\npostgresql:\n  clusterName: pg-cluster  # live\n"
    document = ValuesDocument(text)
    prepare(document)
    assert document.dump() == (
        "# only the cluster\npostgresql:\n  clusterName: pg-cluster-v2 # live\n"
        "recovery:\n  serverName: pg-cluster-v1\n  targetTime: \"2026-11-20T21:45:00Z\"\nmlflow:\n  replicas: 0\n")


def test_null_section_becomes_a_mapping():
    document = ValuesDocument("recovery:\npostgresql:\n  clusterName: a\n")
    document.set("recovery.serverName", "a")
    assert document.plain()["recovery"] == {"serverName": "a"}


@pytest.mark.parametrize("text, message", [
    ("- a\n- b\n", "mapping of Helm values"),
    ("a: [b\n", "not valid YAML"),
])
def test_unusable_files_are_refused(text, message):
    with pytest.raises(ValuesFileError, match=message):
        ValuesDocument(text, "values_file x.yaml")


def test_a_scalar_in_the_way_is_refused():
    document = ValuesDocument("recovery: none\n")
    with pytest.raises(ValuesFileError, match="recovery is a str"):
        document.set("recovery.serverName", "a")


@pytest.mark.parametrize("text, expected", [
    ("a:\n  b: 1\n  c:\n    - x\n", (2, 4, 2)),
    ("a:\n    b: 1\n    c:\n    - x\n", (4, 2, 0)),
    ("a:\n    b:\n        -   x\n", (4, 8, 4)),
    ("a:\n    b:\n    -   x\n", (4, 4, 0)),
    ("a: 1\n", (2, 4, 2)),
])
def test_indentation_is_detected(text, expected):
    assert detect_indentation(text) == expected
