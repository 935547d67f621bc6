"""The chart lints cleanly and every object it renders is valid for the API that will receive it."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from tests.chart.manifest_schemas import SchemaUnavailable, missing_schemas_reason, validate_object
from tests.chart.render import CHART_DIR, find, lint, one, render
from tests.chart.scenarios import SCENARIOS

# Prometheus Operator kinds: no schema is kept for them; their structure is asserted in test_chart_behaviour.
KINDS_WITHOUT_SCHEMA = {"PodMonitor", "PrometheusRule"}
CUSTOM_KINDS = {"Cluster", "Database", "ScheduledBackup", "ObjectStore", "Route", "BuildConfig", "ImageStream",
                "Template"}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lint_strict_is_clean(scenario):
    assert lint(SCENARIOS[scenario][0]) == []


def test_lint_reports_a_broken_values_set():
    """The lint helper does report problems (so the clean results above mean something)."""
    findings = lint({"mlflow": {"image": {"tag": "latest"}}})
    assert any("/mlflow/image/tag" in finding for finding in findings)


def test_default_values_file_alone_renders_everything_for_openshift():
    objects = render({}, api_versions=SCENARIOS["openshift"][1])
    kinds = {o["kind"] for o in objects}
    assert kinds >= {"Deployment", "Service", "Route", "ImageStream", "BuildConfig", "Template", "Cluster",
                     "Database", "ObjectStore", "ScheduledBackup"}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_builtin_kinds_are_valid_for_kubernetes_1_33(scenario):
    values, api_versions = SCENARIOS[scenario]
    builtins = [o for o in render(values, api_versions) if o["kind"] not in CUSTOM_KINDS | KINDS_WITHOUT_SCHEMA]
    assert builtins
    for obj in builtins:
        assert validate_object(obj).startswith("kubernetes-validate")


@pytest.mark.skipif(missing_schemas_reason() is not None, reason=missing_schemas_reason() or "")
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_custom_kinds_are_valid_for_their_crds_and_openshift_api(scenario):
    values, api_versions = SCENARIOS[scenario]
    for obj in render(values, api_versions):
        if obj["kind"] in KINDS_WITHOUT_SCHEMA:
            with pytest.raises(SchemaUnavailable):
                validate_object(obj)
            continue
        validate_object(obj)


@pytest.mark.parametrize("scenario", ["openshift", "upgrade-migration"])
def test_job_inside_the_migrate_db_template_is_a_valid_job_once_processed(scenario):
    values, api_versions = SCENARIOS[scenario]
    template = one(render(values, api_versions), "Template", "migrate-db")
    parameters = {p["name"]: p.get("value", "abcd1234") for p in template["parameters"]}
    text = yaml.safe_dump(template["objects"])
    for name, value in parameters.items():
        text = text.replace("${" + name + "}", value)
    (job,) = yaml.safe_load(text)
    assert validate_object(job).startswith("kubernetes-validate")
    assert job["metadata"]["name"] == "mlflow-migrate-abcd1234"


@pytest.mark.skipif(missing_schemas_reason() is not None, reason=missing_schemas_reason() or "")
@pytest.mark.parametrize("kind, path, bad_value", [
    ("Cluster", ("spec", "plugins", 0, "isWalArchiver"), True),
    ("ScheduledBackup", ("spec", "method"), "barman"),
    ("ObjectStore", ("spec", "retentionPolicy"), "30 days"),
    ("Route", ("spec", "tls", "termination"), "edgy"),
    ("BuildConfig", ("spec", "strategy", "dockerStrategy", "nocache"), True),
    ("Deployment", ("spec", "template", "spec", "containers", 0, "imagePullPolicy"), 3),
])
def test_validation_refuses_a_broken_object(kind, path, bad_value):
    """Each validator in use can fail: a misspelt field or a wrong value is refused."""
    obj = one(render({}, SCENARIOS["openshift"][1]), kind)
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad_value
    with pytest.raises(jsonschema.ValidationError):
        validate_object(obj)


def test_plain_kubernetes_render_has_no_openshift_objects():
    values, api_versions = SCENARIOS["plain-kubernetes"]
    objects = render(values, api_versions)
    assert not [o for o in objects if o["apiVersion"].endswith(".openshift.io/v1")]
    assert find(objects, "Ingress")


def test_values_file_is_valid_yaml_with_the_documented_top_level_sections():
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert set(values) == {"fullnameOverride", "openshift", "mlflow", "service", "route", "ingress", "build",
                           "postgresql", "backup", "recovery", "migration", "monitoring"}
