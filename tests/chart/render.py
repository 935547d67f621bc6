"""Render and lint the chart with the real Helm engine (helm-python-sdk), the way `helm template` / `helm lint` would.

Used by the chart tests and by later layers (sandbox, roles) that need the manifests a values set produces:

    from tests.chart.render import render, lint, OPENSHIFT_API_VERSIONS
    objects = render({"mlflow": {"image": {"tag": "3.5.0"}}}, api_versions=OPENSHIFT_API_VERSIONS)

`.Capabilities.APIVersions` cannot be extended through helm-python's public API, so `render` calls the native
`helm_render` with an `api_versions` option (private API: helm-python-sdk is pinned in tests/requirements.txt).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import yaml
from helm_python import _native

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "mlflow"

# OpenShift 4.20 runs Kubernetes 1.33: render and validate for that version.
KUBE_VERSION = "1.33.0"

# API group-versions an OpenShift cluster adds to .Capabilities.APIVersions (with the kinds the chart uses).
OPENSHIFT_API_VERSIONS = [
    "route.openshift.io/v1",
    "route.openshift.io/v1/Route",
    "build.openshift.io/v1",
    "build.openshift.io/v1/BuildConfig",
    "image.openshift.io/v1",
    "image.openshift.io/v1/ImageStream",
    "template.openshift.io/v1",
    "template.openshift.io/v1/Template",
]


class ChartError(Exception):
    """Helm refused the values (schema) or a template failed (`fail`); `str()` is Helm's message."""


def _render_files(values: dict[str, Any] | None, api_versions: list[str] | None, namespace: str,
                  release: str) -> dict[str, str]:
    options: dict[str, Any] = {"name": release, "namespace": namespace, "kube_version": f"v{KUBE_VERSION}",
                               "is_install": True}
    if api_versions:
        options["api_versions"] = list(api_versions)
    with helm_python.Chart.load(CHART_DIR) as chart:
        try:
            rendered = _native.call_string("helm_render", chart._raw(), json.dumps(values or {}), json.dumps(options))
        except (helm_python.HelmValuesError, helm_python.HelmRenderError) as error:
            raise ChartError(str(error)) from error
    files: dict[str, str] = json.loads(rendered)
    return files


def render(values: dict[str, Any] | None = None, api_versions: list[str] | None = None, namespace: str = "mlflow",
           release: str = "mlflow") -> list[dict[str, Any]]:
    """Render the chart and return its objects (parsed YAML documents, empty ones dropped, NOTES.txt excluded).

    `api_versions` are added to .Capabilities.APIVersions (OPENSHIFT_API_VERSIONS for an OpenShift cluster);
    None renders as for plain Kubernetes. Raises ChartError when Helm refuses the values or a template fails.
    """
    objects: list[dict[str, Any]] = []
    for path, text in sorted(_render_files(values, api_versions, namespace, release).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def render_notes(values: dict[str, Any] | None = None, api_versions: list[str] | None = None,
                 namespace: str = "mlflow", release: str = "mlflow") -> str:
    """Render only NOTES.txt, the text Helm shows the operator after install/upgrade."""
    files = _render_files(values, api_versions, namespace, release)
    return next((text for path, text in files.items() if path.endswith("NOTES.txt")), "")


def lint(values: dict[str, Any] | None = None, namespace: str = "mlflow", strict: bool = True) -> list[str]:
    """Run `helm lint` (strict by default: warnings count) and return its warnings and errors; [] when clean."""
    report = helm_python.lint(CHART_DIR, values or {}, strict=strict, namespace=namespace,
                              kube_version=f"v{KUBE_VERSION}")
    findings = [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2]
    return findings + [error for error in report["errors"] if all(error not in f for f in findings)]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """Objects of a kind (and name, when given)."""
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The single object of a kind (and name); fails the caller's test when there are none or several."""
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}{' ' + name if name else ''}, found {len(found)}"
    return found[0]
