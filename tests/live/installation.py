"""One MLflow installation of a live scenario: a namespace of its own on the target cluster, the playbooks run on it
as the inventory describes it, and what a user can look at afterwards (its URL, the object store, the API)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests
import yaml

from tests.live.kube import Kube
from tests.live.target import Target
from tests.support.ansible_run import PlaybookRun, run_playbook
from tests.support.mlflow_client import MlflowClient
from tests.support.versions import REPO_ROOT

FACTS_PLAYBOOK = Path(__file__).with_name("inventory_facts.yml")
AUTOMATION_ACCOUNT = "mlflow-automation"  # the ServiceAccount playbooks/rbac.yml creates (docs/rbac.md)


def wait_until(predicate, timeout: float, what: str, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Installation:
    target: Target
    admin: Kube  # the target's identity: namespaces, rbac.yml, and looking around
    namespace: str
    workdir: Path
    facts: dict[str, Any] = field(default_factory=dict)
    identity: Path | None = None  # the automation ServiceAccount's kubeconfig, once rbac.yml made it
    runs: list[tuple[str, PlaybookRun]] = field(default_factory=list)  # (label, run) of every run, for the leak scan
    known_secrets: dict[str, str] = field(default_factory=dict)  # by name, every secret seen so far

    def __post_init__(self) -> None:
        self.facts = self.read_inventory()

    # --- the inventory and the playbooks ---------------------------------------------------------------------

    def read_inventory(self) -> dict[str, Any]:
        path = self.workdir / f"facts-{self.namespace}.json"
        run = self._ansible(FACTS_PLAYBOOK, {"live_facts_file": str(path), "mlflow_namespace": self.namespace})
        if run.returncode != 0:
            raise RuntimeError(f"cannot read the installation {self.target.installation} of {self.target.inventory}:"
                               f" {run.stdout[-2000:]}{run.stderr[-2000:]}")
        facts = json.loads(path.read_text(encoding="utf-8"))
        path.unlink()
        return facts

    @property
    def drill_namespace(self) -> str:
        return self.facts["drill_namespace"]

    def playbook(self, name: str, *args: str, check: bool = False, diff: bool = False, verbose: bool = False,
                 extra_vars: dict[str, Any] | None = None, admin: bool = False) -> PlaybookRun:
        """`playbooks/<name>.yml` on this namespace, as the automation identity (or the target's, with `admin`)."""
        variables: dict[str, Any] = {"mlflow_namespace": self.namespace}
        kubeconfig = self.target.kubeconfig if admin or self.identity is None else self.identity
        env = {"K8S_AUTH_KUBECONFIG": str(kubeconfig), "KUBECONFIG": str(kubeconfig)}
        if kubeconfig == self.target.kubeconfig and self.target.context:
            env["K8S_AUTH_CONTEXT"] = self.target.context
        if self.identity is not None and not admin:
            variables["mlflow_create_namespace"] = False  # the identity has no cluster-wide right
        variables.update(extra_vars or {})
        options = [*args, "--check"] if check else list(args)
        if diff:
            options.append("--diff")
        if verbose:
            options.append("-vvv")
        run = self._ansible(REPO_ROOT / "playbooks" / f"{name}.yml", variables, *options, env=env)
        self.runs.append((" ".join([f"{name}.yml", *options]), run))
        return run

    def _ansible(self, playbook: Path, variables: dict[str, Any], *options: str,
                 env: dict[str, str] | None = None) -> PlaybookRun:
        return run_playbook(playbook, "-i", str(self.target.inventory), "-l", self.target.installation,
                            "-e", json.dumps(variables), *options,
                            env={**self.target.environment, **(env or {})}, timeout=2400)

    def act_as_automation(self) -> None:
        """Run the playbooks from now on as the ServiceAccount rbac.yml bound in this namespace only."""
        self.identity = self.admin.token_kubeconfig(self.namespace, AUTOMATION_ACCOUNT,
                                                    self.workdir / f"kubeconfig-{self.namespace}")

    # --- what a user can look at -----------------------------------------------------------------------------

    def mlflow(self, url: str | None = None) -> MlflowClient:
        """A REST client of MLflow at its URL (the Route or Ingress), as the admin the inventory names."""
        return mlflow_client(url or self.facts["url"], tuple(self.facts["admin"]), self.target.hosts_file)

    def s3(self):
        """The object store with the inventory's credentials, at the endpoint this machine reaches it by."""
        credentials = self.s3_credentials()
        endpoint = self.target.s3_endpoint or self.facts["values"]["backup"]["s3"].get("endpointURL")
        return boto3.client("s3", endpoint_url=endpoint, region_name=credentials.get("AWS_DEFAULT_REGION", "us-east-1"),
                            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"].strip(),
                            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"].strip(),
                            verify=self.target.s3_ca_bundle or True)

    def s3_credentials(self) -> dict[str, str]:
        """The inventory's mlflow_s3_credentials, or its aws.env file's KEY=value lines."""
        credentials = self.facts["s3_credentials"]
        if isinstance(credentials, dict):
            return {str(key): str(value) for key, value in credentials.items()}
        pairs = (line.split("=", 1) for line in credentials.splitlines()
                 if "=" in line and not line.lstrip().startswith("#"))
        return {key.strip(): value.strip() for key, value in pairs}

    def backup_objects(self) -> list[str]:
        """Every key under the installation's backup archive (values' backup.s3.destinationPath)."""
        location = urlsplit(self.facts["values"]["backup"]["s3"]["destinationPath"])
        pages = self.s3().get_paginator("list_objects_v2").paginate(
            Bucket=location.netloc, Prefix=location.path.lstrip("/").rstrip("/") + "/")
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def secrets(self) -> dict[str, str]:
        """What must never appear in any output, by what it is: the inventory's passwords and keys, the identities'
        tokens, the databases' passwords (of every cluster seen so far: call it again after a change that makes new
        ones). The values are never shown; the names are."""
        found = {"admin password": self.facts["admin"][1], "Flask secret key": self.facts["flask_secret_key"]}
        found.update({key: value for key, value in self.s3_credentials().items()
                      if key.startswith("AWS_") and "REGION" not in key})
        found.update({f"token of {path.name}": _token(path) for path in (self.target.kubeconfig, self.identity)
                      if path is not None})
        for secret in self.admin.list("v1", "Secret", namespace=self.namespace):
            if secret["metadata"]["name"].endswith("-app") and "password" in (secret.get("data") or {}):
                found[f"{secret['metadata']['name']} password"] = _decode(secret["data"]["password"])
        self.known_secrets.update({name: value.strip() for name, value in found.items()
                                   if value and len(value.strip()) >= 8})
        return dict(self.known_secrets)

    def cluster_name(self) -> str:
        return self.admin.helm_values(self.facts["release"], self.namespace)["postgresql"]["clusterName"]

    def server_image(self) -> str:
        deployment = self.admin.get("apps/v1", "Deployment", self.facts["release"], self.namespace)
        return deployment["spec"]["template"]["spec"]["containers"][0]["image"]

    def wait_for_base_backup(self, timeout: float = 300) -> None:
        wait_until(lambda: any((item.get("status") or {}).get("phase") == "completed"
                               for item in self.admin.list("postgresql.cnpg.io/v1", "Backup", self.namespace)),
                   timeout, f"a completed base backup in {self.namespace}", interval=2)

    def primary(self) -> str:
        """The pod of the release's cluster's primary (LookupError before the first deploy)."""
        cluster = self.admin.get("postgresql.cnpg.io/v1", "Cluster", self.cluster_name(), self.namespace)
        return cluster["status"]["currentPrimary"]

    def psql(self, query: str, database: str = "postgres", primary: str | None = None) -> str:
        """A query as the superuser in the primary's postgres container (what `kubectl cnpg psql` does); give
        `primary` when asking several in a row."""
        command = ["psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", query]
        return self.admin.exec(self.namespace, primary or self.primary(), "postgres", command).strip()

    def switch_wal_and_wait_archived(self, timeout: float = 120) -> None:
        """Close the current WAL segment and wait until the archiver has it: CNPG would otherwise archive it only
        after archive_timeout (5 minutes)."""
        primary = self.primary()
        segment = self.psql("SELECT pg_walfile_name(pg_switch_wal())", primary=primary)
        wait_until(lambda: self.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver",
                                     primary=primary) >= segment,
                   timeout, f"WAL segment {segment} to be archived", interval=2)


def _token(kubeconfig: Path) -> str:
    """The bearer token of a kubeconfig's users, if any (an identity's credential: never to be shown)."""
    users = (yaml.safe_load(kubeconfig.read_text(encoding="utf-8")) or {}).get("users") or []
    return next((user["user"]["token"] for user in users if (user.get("user") or {}).get("token")), "")


def _decode(value: str) -> str:
    return base64.b64decode(value).decode()


def mlflow_client(url: str, admin: tuple[str, str], hosts_file: Path | None) -> MlflowClient:
    """A client of `url`; a host the hosts file names is reached at its address with the Host header a resolving
    client sends (a local cluster's apps domain that this machine's DNS does not know)."""
    parts = urlsplit(url)
    session = requests.Session()
    address = _hosts(hosts_file).get(parts.hostname or "")
    if address:
        session.headers["Host"] = parts.netloc
        url = parts._replace(netloc=f"{address}:{parts.port}" if parts.port else address).geturl()
    return MlflowClient(url=url.rstrip("/"), admin=admin, session=session)


def _hosts(path: Path | None) -> dict[str, str]:
    names: dict[str, str] = {}
    if path is None:
        return names
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        for name in fields[1:]:
            names.setdefault(name, fields[0])
    return names
