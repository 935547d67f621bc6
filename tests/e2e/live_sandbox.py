"""The sandbox as a live target (tests/live, docs/live-testing.md): what a person with a cluster would write - a
target file, an inventory whose installation derives everything from its namespace, an admin kubeconfig - made for a
sandbox of the plain-Kubernetes flavour. The live scenarios get only that; this module is the one place that knows
it is a sandbox, and it checks afterwards what only the sandbox can tell (no OpenShift API was asked)."""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.e2e.sandbox_flows import GROUP_VARS, INVENTORY, Sandbox
from tests.live.inertness import secret_forms
from tests.live.target import Target

APPS_DOMAIN = "apps.sandbox.local"
# Prebuilt images as an air-gapped registry holds them, each version pinned by digest (the sandbox runs
# `.../mlflow:v<X.Y.Z>@sha256:<digest>` as that MLflow version: sandbox/runtime/images.py).
PREBUILT_REPOSITORY = "registry.example.invalid/mlops/mlflow"
PREBUILT_DIGESTS = {"3.4.0": "sha256:" + "34" * 32, "3.5.0": "sha256:" + "35" * 32, "3.5.1": "sha256:" + "51" * 32}
# A request line of the API server's log (handler.py) on an OpenShift group's path.
OPENSHIFT_REQUEST = re.compile(r" (GET|POST|PUT|PATCH|DELETE|HEAD) (/apis/[a-z.]+\.openshift\.io\S*)")


@contextmanager
def sandbox_target(deploy_version: str = "3.4.0", schema_change: str = "3.5.0", next_version: str = "3.5.1"
                   ) -> Iterator[Target]:
    """A plain-Kubernetes sandbox written up as a live target. Afterwards, what only the sandbox can tell: nothing
    asked an OpenShift API, and no request body the playbooks sent (but a Secret's) carried a secret."""
    sandbox = Sandbox.start(flavour="kubernetes")
    try:
        path = write_target(sandbox, sandbox.root / "live", deploy_version, schema_change, next_version)
        yield Target.load(path)
        assert openshift_requests(sandbox) == [], "a flow asked an OpenShift API on plain Kubernetes"
        assert_no_secret_in_request_bodies(sandbox)
    finally:
        sandbox.stop()


def write_target(sandbox: Sandbox, folder: Path, deploy_version: str, schema_change: str, next_version: str) -> Path:
    inventory = folder / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    shutil.copytree(INVENTORY / "files", inventory / "files")
    s3 = sandbox.info["s3"]
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"mlflow": {"hosts": {"live": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}}}))
    (inventory / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump(
        inventory_vars(s3, deploy_version), sort_keys=False))
    target = {
        "inventory": "inventory/hosts.yml", "installation": "live", "kubeconfig": str(sandbox.cluster.kubeconfig),
        "context": "sandbox-tls", "platform": "kubernetes", "namespace_prefix": "live",
        "versions": {"deploy": deploy_version, "schema_change": schema_change, "next": next_version},
        # This machine reaches the store at its external endpoint; the cluster's pods at the in-cluster name.
        "s3": {"endpoint": s3["endpoint"], "ca_bundle": s3.get("ca_bundle") or None},
        # The sandbox's names resolve through its hosts file (a local cluster's apps domain without DNS), and its
        # helm is on PATH: what `. .sandbox/env.sh` gives a person.
        "hosts_file": sandbox.info["hosts_file"],
        "environment": {key: sandbox.env()[key] for key in ("PATH", "HOME", "TMPDIR", *sandbox.info["resolver_env"])},
    }
    path = folder / "target.yml"
    path.write_text(yaml.safe_dump(target, sort_keys=False))
    return path


def inventory_vars(s3: dict, deploy_version: str) -> dict:
    """The sandbox inventory's settings with every per-installation value derived from mlflow_namespace, images
    prebuilt and pinned by digest, an Ingress per installation, backups through the store's in-cluster name."""
    host = "mlflow-{{ mlflow_namespace }}." + APPS_DOMAIN
    drill_host = "mlflow-{{ drill_namespace }}." + APPS_DOMAIN
    values = yaml.safe_load(yaml.safe_dump(GROUP_VARS["mlflow_values"]).replace(
        "{{ __sandbox_s3_ca_secret }}", "s3-ca" if s3.get("ca_bundle") else ""))
    values["mlflow"]["image"] = {"tag": deploy_version, "repository": PREBUILT_REPOSITORY,
                                 "digests": dict(PREBUILT_DIGESTS)}
    values["mlflow"]["artifacts"].update(destination="s3://mlflow-artifacts/{{ mlflow_namespace }}/",
                                         endpointURL=s3["endpoint"])
    values["backup"]["s3"].update(destinationPath="s3://mlflow-backups/{{ mlflow_namespace }}",
                                  endpointURL=s3["in_cluster_endpoint"])
    values["ingress"] = {"enabled": True, "host": host, "tls": {"enabled": False}}
    return {
        "mlflow_release_name": "mlflow",
        "mlflow_url": f"http://{host}",
        "mlflow_route_scheme": "http",
        "mlflow_validate_certs": False,
        "mlflow_admin_username": GROUP_VARS["mlflow_admin_username"],
        "mlflow_admin_password": GROUP_VARS["mlflow_admin_password"],
        "mlflow_aws_env_file": "{{ inventory_dir }}/files/aws.env",
        "mlflow_basic_auth_ini_file": "{{ inventory_dir }}/files/basic-auth.ini",
        "mlflow_flask_secret_key": GROUP_VARS["mlflow_flask_secret_key"],
        "mlflow_s3_ca_file": s3.get("ca_bundle") or None,
        "mlflow_environment": {},
        "mlflow_values": values,
        "mlflow_backup_max_age_hours": 26,
        "drill_namespace": "{{ mlflow_namespace }}-drill",
        "rbac_drill_namespace": "{{ drill_namespace }}",
        "mlflow_drill_values": {"ingress": {"host": drill_host}},
        "mlflow_drill_url": f"http://{drill_host}",
    }


def assert_no_secret_in_request_bodies(sandbox: Sandbox) -> None:
    """The API server's audit log (every write with its body): the inventory's secrets, in every form, appear in
    Secret writes only - and do appear there, so the search is known to look where they would be."""
    aws = dict(line.split("=", 1) for line in (INVENTORY / "files" / "aws.env").read_text().splitlines()
               if "=" in line and not line.startswith("#"))
    secrets = {"admin password": GROUP_VARS["mlflow_admin_password"], "S3 secret key": aws["AWS_SECRET_ACCESS_KEY"],
               "Flask secret key": GROUP_VARS["mlflow_flask_secret_key"]}
    forms = {form: name for name, value in secrets.items() for form in secret_forms(value).values()}
    entries = [json.loads(line) for line in (sandbox.cluster.state_dir / "audit.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    secret_writes = [entry.get("body") or "" for entry in entries if entry.get("resource") == "secrets"]
    assert any(base64.b64encode(aws["AWS_SECRET_ACCESS_KEY"].encode()).decode() in body for body in secret_writes), \
        "the S3 secret key is not in any Secret write: the search below would prove nothing"
    leaks = sorted({f"{name} in a {entry.get('verb')} of {entry.get('resource')}" for entry in entries
                    if entry.get("resource") != "secrets" for form, name in forms.items()
                    if form in (entry.get("body") or "")})
    assert leaks == [], leaks


def openshift_requests(sandbox: Sandbox) -> list[str]:
    """Every request on an OpenShift API path the sandbox was sent (it logs each one)."""
    log = (sandbox.cluster.state_dir / "apiserver.log").read_text(encoding="utf-8", errors="replace")
    return [match.group(2) for match in OPENSHIFT_REQUEST.finditer(log)]
