"""Playbooks, roles and AWX configuration, checked without a cluster: syntax, argument specs, bad input."""

from pathlib import Path

import pytest
import yaml

from tests.support.ansible_run import run_playbook
from tests.support.versions import REPO_ROOT

PLAYBOOKS = sorted((REPO_ROOT / "playbooks").glob("*.yml"))
# A cluster address nothing listens on: a playbook that reached a cluster call would fail differently.
NO_CLUSTER = {"K8S_AUTH_HOST": "http://127.0.0.1:9", "K8S_AUTH_VERIFY_SSL": "false"}
EXAMPLE_INVENTORY = str(REPO_ROOT / "inventories" / "example" / "hosts.yml")


@pytest.mark.parametrize("playbook", PLAYBOOKS + [REPO_ROOT / "awx" / "configure.yml"], ids=lambda p: p.name)
def test_syntax(playbook: Path):
    run = run_playbook(playbook, "--syntax-check", "-i", EXAMPLE_INVENTORY, json_output=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_role_has_argument_specs_with_descriptions():
    for role in sorted((REPO_ROOT / "roles").iterdir()):
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        for entry, spec in specs.items():
            assert spec.get("short_description") and spec.get("description"), f"{role.name}:{entry}"


@pytest.mark.parametrize("tag", ["latest", "3.5", "3.5.0-rc1"])
def test_upgrade_refuses_a_tag_that_is_not_a_version_before_touching_anything(tag):
    run = run_playbook(REPO_ROOT / "playbooks" / "upgrade.yml", "-i", EXAMPLE_INVENTORY, "-e", f"mlflow_tag={tag}",
                       env=NO_CLUSTER, json_output=False)
    assert run.returncode != 0
    assert f"'{tag}' is not an MLflow release version: use X.Y.Z, for example 3.5.0" in run.stdout
    assert "127.0.0.1:9" not in run.stdout  # refused before any cluster call


def test_role_argument_spec_rejects_wrong_types_before_any_task(tmp_path):
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "roles": [{"role": "mlops.mlflow.deploy", "deploy_namespace": "mlflow", "deploy_values": "not-a-dict",
                        "deploy_verify": False}]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    run = run_playbook(playbook, "-i", "localhost,", env=NO_CLUSTER, json_output=False)
    assert run.returncode != 0
    assert "Validating arguments against arg spec" in run.stdout
    assert "deploy_values" in run.stdout and "dict" in run.stdout


def test_deploy_refuses_a_malformed_aws_env_without_showing_it(tmp_path):
    aws_env = tmp_path / "aws.env"
    aws_env.write_text("AWS_ACCESS_KEY_ID=AKIA-test\nthis-line-is-a-secret-without-equals\n")
    ini = tmp_path / "basic-auth.ini"
    ini.write_text("[mlflow]\ndatabase_uri = postgresql://a:b@h/db\n")
    run = run_playbook(REPO_ROOT / "playbooks" / "deploy.yml", "-i", EXAMPLE_INVENTORY,
                       "-e", f"mlflow_aws_env_file={aws_env}", "-e", f"mlflow_basic_auth_ini_file={ini}",
                       env=NO_CLUSTER, json_output=False)
    assert run.returncode != 0
    assert "env file: line 2 is not KEY=VALUE" in run.stdout
    assert "this-line-is-a-secret" not in run.stdout + run.stderr


def test_awx_templates_match_the_playbooks_and_their_inputs():
    config = yaml.safe_load((REPO_ROOT / "awx" / "job_templates.yml").read_text())
    names = {template["name"] for template in config["awx_job_templates"]}
    for template in config["awx_job_templates"]:
        playbook = REPO_ROOT / template["playbook"]
        assert playbook.exists(), template["playbook"]
        for question in template.get("survey", []):
            assert question["variable"] in playbook.read_text(), (template["name"], question["variable"])
    assert {schedule["job_template"] for schedule in config["awx_schedules"]} <= names
    assert set(p.name for p in PLAYBOOKS) == {Path(t["playbook"]).name for t in config["awx_job_templates"]}


def test_a_run_whose_installations_share_a_namespace_is_refused_before_any_cluster_call():
    # -e applies to every host: team-a and team-b (cluster east) then share one release.
    run = run_playbook(REPO_ROOT / "playbooks" / "deploy.yml", "-i", EXAMPLE_INVENTORY, "-e", "mlflow_namespace=shared",
                       env=NO_CLUSTER, json_output=False)
    assert run.returncode != 0
    flat = " ".join(run.stdout.split())
    kubeconfig = f"{Path.home()}/.kube/config"
    assert (f"Nothing was changed: team-a and team-b share the release mlflow in namespace shared on {kubeconfig}, east;"
            in flat), run.stdout[-2000:]
    assert "team-a and team-b share the URL https://mlflow-shared.apps.east.example.com" in flat
    assert "127.0.0.1:9" not in run.stdout  # refused before any cluster call
    # prod is on cluster west: the same namespace there is its own, and is not named.
    assert "prod and" not in run.stdout and "and prod" not in run.stdout


@pytest.mark.parametrize("playbook", ["recover.yml", "decommission.yml"])
def test_recover_and_decommission_refuse_more_than_one_installation(playbook):
    run = run_playbook(REPO_ROOT / "playbooks" / playbook, "-i", EXAMPLE_INVENTORY, "-l", "team-a:prod",
                       "-e", "decommission_cluster=pg-cluster-v1", env=NO_CLUSTER, json_output=False)
    assert run.returncode != 0
    flat = " ".join(run.stdout.split())
    assert "works on one installation at a time and this run targets 2 (team-a, prod)" in flat, run.stdout[-2000:]
    assert "Pick one with -l <installation>" in flat
    assert "127.0.0.1:9" not in run.stdout
