"""Which prebuilt MLflow image references the sandbox runs (sandbox/runtime/images.py), decided without pulling.

A reference pinned by digest (`<repository>:v<X.Y.Z>@sha256:<64 hex>`, what the chart renders from
mlflow.image.digests) runs that version; a malformed digest is refused as a container runtime refuses it.
"""

from __future__ import annotations

import pytest

from sandbox.runtime.images import ImagePullError, check_pullable, mlflow_version

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize("reference, version", [
    (f"registry.example.invalid/team/mlflow:v3.5.0@{DIGEST}", "3.5.0"),
    ("registry.example.invalid:5000/mlflow:v3.5.1", "3.5.1"),
    (f"mlflow-server:3.4.0@{DIGEST}", "3.4.0"),
])
def test_digest_pinned_and_tagged_references_run_their_version(reference, version):
    assert mlflow_version(reference) == version
    check_pullable(reference, client=None)


@pytest.mark.parametrize("reference", [
    "registry.example.invalid/team/mlflow:v3.5.0@sha256:abc",
    f"registry.example.invalid/team/mlflow:v3.5.0@{DIGEST.upper()}",
    f"registry.example.invalid/team/mlflow@{DIGEST}",
])
def test_malformed_or_versionless_references_cannot_be_pulled(reference):
    assert mlflow_version(reference) is None
    with pytest.raises(ImagePullError, match="failed to pull image"):
        check_pullable(reference, client=None)
