"""A live target file (docs/live-testing.md) is checked before anything touches a cluster: what is wrong is named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.live.target import Target, TargetError


def write(folder: Path, **overrides) -> Path:
    (folder / "hosts.yml").write_text("all: {}\n")
    (folder / "kubeconfig").write_text("apiVersion: v1\n")
    data = {"inventory": "hosts.yml", "installation": "live", "kubeconfig": "kubeconfig",
            "versions": {"deploy": "3.4.0", "schema_change": "3.5.0", "next": "3.5.1"}, **overrides}
    path = folder / "target.yml"
    path.write_text(yaml.safe_dump({key: value for key, value in data.items() if value is not None}))
    return path


def test_a_complete_target_loads_with_paths_relative_to_it(tmp_path: Path):
    target = Target.load(write(tmp_path, s3={"endpoint": "https://127.0.0.1:9000", "ca_bundle": "ca.pem"}))
    assert target.inventory == tmp_path / "hosts.yml" and target.kubeconfig == tmp_path / "kubeconfig"
    assert (target.platform, target.deploy_version, target.schema_change_version, target.next_version) == \
        ("kubernetes", "3.4.0", "3.5.0", "3.5.1")
    assert target.s3_ca_bundle == str(tmp_path / "ca.pem") and target.namespace_prefix == "mlflow-live"


@pytest.mark.parametrize("overrides, message", [
    ({"installation": None}, "'installation' is required"),
    ({"versions": {"deploy": "3.4.0"}}, "versions.deploy and versions.next are required"),
    ({"platform": "nomad"}, "platform must be one of kubernetes, openshift"),
    ({"kubeconfg": "typo"}, "unknown keys in the live target: kubeconfg"),
    ({"inventory": "missing.yml"}, "the inventory"),
])
def test_a_wrong_target_is_refused_naming_what_is_wrong(tmp_path: Path, overrides: dict, message: str):
    with pytest.raises(TargetError, match=message):
        Target.load(write(tmp_path, **overrides))


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path):
    path = tmp_path / "target.yml"
    path.write_text("- a list\n")
    with pytest.raises(TargetError, match="a live target is a mapping"):
        Target.load(path)
