"""Prebuilt images (plain Kubernetes, air-gapped registries): `mlflow.image.repository` plus a digest per version.

Every image the release runs comes from one rule (`mlflow.imageFor`): the server runs the image of
`mlflow.image.tag`, the migrate Job and Template the image of `build.tag` (the version being migrated to), each
`<repository>:v<version>@<digest>` when `mlflow.image.digests` pins that version. A single fixed reference could
not follow an upgrade, so the chart refuses `mlflow.image.reference`.
"""

from __future__ import annotations

import pytest

from tests.chart.render import OPENSHIFT_API_VERSIONS, ChartError, find, one, render

REPO = "registry.example.invalid/team/mlflow"
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64
PREBUILT = {"openshift": {"enabled": False}, "ingress": {"enabled": True, "host": "mlflow.example.invalid"},
            "mlflow": {"image": {"repository": REPO, "tag": "3.5.0", "digests": {"3.5.0": OLD, "3.5.1": NEW}}}}


def image_of(objects, kind="Deployment"):
    return one(objects, kind)["spec"]["template"]["spec"]["containers"][0]["image"]


def test_the_server_runs_the_digest_of_its_version():
    objects = render(PREBUILT)
    assert image_of(objects) == f"{REPO}:v3.5.0@{OLD}"
    assert not find(objects, "BuildConfig") and not find(objects, "ImageStream") and not find(objects, "Route")
    assert one(objects, "Ingress")["spec"]["rules"][0]["host"] == "mlflow.example.invalid"


def test_a_version_without_a_digest_runs_its_tag():
    objects = render({**PREBUILT, "mlflow": {"image": {"repository": REPO, "tag": "3.4.0", "digests": {"3.5.0": OLD}}}})
    assert image_of(objects) == f"{REPO}:v3.4.0"


def test_the_migrate_job_runs_the_digest_of_the_version_migrated_to():
    objects = render({**PREBUILT, "build": {"tag": "3.5.1"}, "migration": {"enabled": True, "runId": "r1"}})
    assert image_of(objects) == f"{REPO}:v3.5.0@{OLD}"  # the Deployment keeps the running version
    assert image_of(objects, "Job") == f"{REPO}:v3.5.1@{NEW}"


def test_the_template_of_an_openshift_cluster_without_builds_pins_the_digest_too():
    """build.enabled false on OpenShift: Route and Template rendered, the image still comes from the repository."""
    objects = render({"build": {"enabled": False, "tag": "3.5.1"},
                      "mlflow": {"image": {"repository": REPO, "digests": {"3.5.1": NEW}}}}, OPENSHIFT_API_VERSIONS)
    template = one(objects, "Template", "migrate-db")
    assert {p["name"]: p.get("value") for p in template["parameters"]}["IMAGE"] == f"{REPO}:v3.5.1@{NEW}"
    assert image_of(objects) == f"{REPO}:v3.5.0"


def test_a_built_image_ignores_the_digests():
    objects = render({"mlflow": {"image": {"digests": {"3.5.0": OLD}}}}, OPENSHIFT_API_VERSIONS)
    assert image_of(objects) == "image-registry.openshift-image-registry.svc:5000/mlflow/mlflow:v3.5.0"


def test_a_fixed_reference_is_refused_with_the_replacement():
    with pytest.raises(ChartError) as refused:
        render({"mlflow": {"image": {"reference": f"{REPO}@{OLD}"}}})
    message = str(refused.value)
    assert "mlflow.image.reference" in message and "mlflow.image.digests" in message and '"3.5.0"' in message


@pytest.mark.parametrize("digests", [{"3.5.0": "sha256:abc"}, {"3.5.0": "1" * 64}, {"v3.5.0": OLD}, {"3.5": OLD},
                                     {"3.5.0": "sha256:" + "A" * 64}])
def test_malformed_digests_are_refused(digests):
    with pytest.raises(ChartError) as refused:
        render({"mlflow": {"image": {"repository": REPO, "digests": digests}}})
    assert "/mlflow/image/digests" in str(refused.value)
