"""The BuildConfig installs the chart's pinned requirement set of a supported version, exactly; an unknown version
renders unpinned and says so (annotation and Dockerfile comment)."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from tests.chart.render import CHART_DIR, OPENSHIFT_API_VERSIONS, one, render
from tests.support.versions import MLFLOW_VERSIONS


def pins_of(version: str) -> list[str]:
    """The requirement lines of the chart's file for `version`, as written there."""
    text = (CHART_DIR / "files" / "requirements" / f"mlflow-{version}.txt").read_text(encoding="utf-8")
    return [line for line in (raw.split("#", 1)[0].strip() for raw in text.splitlines()) if line]


def build_config(version: str, packages: list[str] | None = None) -> dict[str, Any]:
    build: dict[str, Any] = {"tag": version}
    if packages is not None:
        build["packages"] = packages
    return one(render({"build": build}, OPENSHIFT_API_VERSIONS), "BuildConfig")


def pip_installs(build: dict[str, Any]) -> list[list[str]]:
    """The words after `RUN pip install` of each RUN, continuation lines joined as Docker joins them."""
    dockerfile = build["spec"]["source"]["dockerfile"]
    code = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    runs = [shlex.split(run) for run in code.replace("\\\n", " ").splitlines() if run.startswith("RUN ")]
    assert all(run[:3] == ["RUN", "pip", "install"] for run in runs), runs
    return [run[3:] for run in runs]


@pytest.mark.parametrize("version", MLFLOW_VERSIONS)
def test_a_supported_version_installs_exactly_its_pinned_set(version):
    build = build_config(version)
    assert build["metadata"]["annotations"]["mlops.mlflow/requirements"] == "pinned"
    # The default build.packages is empty: one pip step, the whole set without resolving (--no-deps).
    assert pip_installs(build) == [["--no-cache-dir", "--no-deps", *pins_of(version)]]
    assert f"mlflow=={version}" in pins_of(version)
    assert f"files/requirements/mlflow-{version}.txt" in build["spec"]["source"]["dockerfile"]


def test_extra_packages_are_installed_after_the_pinned_set():
    build = build_config("3.5.0", ["no-such-package-mlops==1.0", "psycopg[binary]"])
    assert pip_installs(build) == [["--no-cache-dir", "--no-deps", *pins_of("3.5.0")],
                                   ["--no-cache-dir", "no-such-package-mlops==1.0", "psycopg[binary]"]]


@pytest.mark.parametrize("packages", [None, ["pyyaml==6.0.2"]])
def test_an_unknown_version_renders_unpinned_and_says_so(packages):
    build = build_config("3.6.0", packages)
    assert build["metadata"]["name"] == "mlflow-v3-6-0"
    assert build["metadata"]["annotations"]["mlops.mlflow/requirements"] == "unpinned"
    assert "# Not pinned: the chart has no requirement set for MLflow 3.6.0" in build["spec"]["source"]["dockerfile"]
    # pip resolves it, as before pinning: an unknown version fails at this step with pip's own message.
    assert pip_installs(build) == [["--no-cache-dir", "mlflow[auth]==3.6.0", "psycopg2-binary", "psycopg[binary]",
                                    "boto3", *(packages or [])]]
