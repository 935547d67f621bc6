"""Drive the real playbooks against a sandbox with real processes, and look at the result as users would."""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
import yaml

from tests.sandbox.cluster import SandboxCluster
from tests.sandbox.flavoured_cluster import FlavouredCluster
from tests.sandbox.runtime_stack import Stack
from tests.support.ansible_run import PlaybookRun, run_playbook
from tests.support.mlflow_server import MlflowServer
from tests.support.versions import REPO_ROOT

INVENTORY = REPO_ROOT / "inventories" / "sandbox"
GROUP_VARS = yaml.safe_load((INVENTORY / "group_vars" / "all" / "main.yml").read_text())
ADMIN = (GROUP_VARS["mlflow_admin_username"], GROUP_VARS["mlflow_admin_password"])
BUCKETS = ("mlflow-backups", "mlflow-artifacts")
# The kinds the flows touch, by the name kubectl takes, with the group and kind their objects carry.
SNAPSHOT_KINDS = {
    "namespaces": ("", "Namespace"), "secrets": ("", "Secret"), "configmaps": ("", "ConfigMap"),
    "services": ("", "Service"), "deployments": ("apps", "Deployment"), "jobs": ("batch", "Job"),
    "leases": ("coordination.k8s.io", "Lease"),
    "clusters.postgresql.cnpg.io": ("postgresql.cnpg.io", "Cluster"),
    "backups.postgresql.cnpg.io": ("postgresql.cnpg.io", "Backup"),
    "scheduledbackups.postgresql.cnpg.io": ("postgresql.cnpg.io", "ScheduledBackup"),
    "databases.postgresql.cnpg.io": ("postgresql.cnpg.io", "Database"),
    "objectstores.barmancloud.cnpg.io": ("barmancloud.cnpg.io", "ObjectStore"),
    "routes.route.openshift.io": ("route.openshift.io", "Route"),
    "buildconfigs.build.openshift.io": ("build.openshift.io", "BuildConfig"),
    "imagestreams.image.openshift.io": ("image.openshift.io", "ImageStream"),
}


@dataclass
class Sandbox:
    """One sandbox with real controllers; namespaces stand for independent MLflow installations."""

    cluster: SandboxCluster
    root: Path
    _info: dict[str, Any] = field(default_factory=dict)
    in_cluster_stores: set[str] = field(default_factory=set)
    identities: dict[str, Path] = field(default_factory=dict)  # namespace -> kubeconfig its playbooks run with

    @classmethod
    def start(cls, flavour: str = "openshift") -> Sandbox:
        """A sandbox of `flavour`: "openshift", or "kubernetes" (no OpenShift API; the live scenarios' target,
        tests/e2e/live_sandbox.py, which writes its own inventory)."""
        root = Path(tempfile.mkdtemp(prefix="e2e-"))
        root.chmod(0o755)  # postgres traverses to its data folders under the state dir
        # The sandbox's default S3: HTTPS signed by a private CA, which the inventory gives deploy.yml (the s3-ca
        # Secret the ObjectStore's endpointCA and the server name) and the playbooks' catalog reads trust.
        cluster = SandboxCluster(root) if flavour == "openshift" else FlavouredCluster(root, flavour=flavour)
        sandbox = cls(cluster.start(), root)
        sandbox.create_buckets()
        return sandbox

    def stop(self) -> None:
        self.cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def delete_namespace(self, name: str) -> None:
        """Delete a namespace and wait until it is gone, with every process in it."""
        self.cluster.kubectl("delete", "namespace", name, "--wait=true", "--timeout=120s", check=False)

    @property
    def info(self) -> dict[str, Any]:
        if not self._info:
            self._info = json.loads(self.cluster.sandbox("status").stdout)
        return self._info

    def s3(self):
        s3 = self.info["s3"]
        return boto3.client("s3", endpoint_url=s3["endpoint"], aws_access_key_id=s3["access_key_id"],
                            aws_secret_access_key=s3["secret_access_key"], region_name=s3["region"],
                            verify=s3.get("ca_bundle") or True)

    def create_buckets(self) -> None:
        """The object store's buckets exist before MLflow is deployed (as they would in production)."""
        s3 = self.s3()
        for bucket in BUCKETS:
            s3.create_bucket(Bucket=bucket)

    def env(self) -> dict[str, str]:
        """What `. .sandbox/env.sh` gives a person: kubeconfig, helm on PATH, name resolution, the S3 endpoint."""
        return dict(self.cluster.env, **self.info["resolver_env"], SANDBOX_S3_ENDPOINT=self.info["s3"]["endpoint"],
                    SANDBOX_S3_CA_BUNDLE=self.info["s3"].get("ca_bundle") or "")

    # --- playbooks -------------------------------------------------------------------------------------------

    def act_as_service_account(self, namespace: str, account: str = "mlflow-automation") -> None:
        """Run `namespace`'s playbooks as `account` (a token of its own, over the TLS port, where credentials count:
        docs/sandbox.md "Identities and authorization"), with the namespace already there (no cluster-wide right)."""
        token = self.cluster.kubectl("create", "token", account, "-n", namespace, "--duration=4h").stdout.strip()
        config = yaml.safe_load(Path(self.cluster.env["K8S_AUTH_KUBECONFIG"]).read_text())
        user = f"{account}@{namespace}"
        config["users"].append({"name": user, "user": {"token": token}})
        config["contexts"] = [{"name": user, "context": dict(item["context"], user=user)}
                              for item in config["contexts"] if item["name"] == "sandbox-tls"]
        config["current-context"] = user
        path = self.root / f"kubeconfig-{user}"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        self.identities[namespace] = path

    def playbook(self, name: str, namespace: str, *args: str, check: bool = False, diff: bool = False,
                 verbosity: int = 0, extra_vars: dict[str, Any] | None = None, admin: bool = False) -> PlaybookRun:
        """`playbooks/<name>.yml` on `namespace`, as its identity (act_as_service_account), or `admin`."""
        variables = {"mlflow_namespace": namespace, "mlflow_url": self.url(namespace)}
        env = self.env()
        if namespace in self.identities and not admin:
            variables["mlflow_create_namespace"] = False
            env.update(K8S_AUTH_KUBECONFIG=str(self.identities[namespace]), KUBECONFIG=str(self.identities[namespace]))
        variables.update(extra_vars or {})
        options = ["-i", str(INVENTORY / "hosts.yml"), "-e", json.dumps(variables), *args]
        if check:
            options.append("--check")
        if diff:
            options.append("--diff")
        if verbosity:
            options.append("-" + "v" * verbosity)
        return run_playbook(REPO_ROOT / "playbooks" / f"{name}.yml", *options, env=env, timeout=2400)

    def values(self, namespace: str, version: str) -> dict[str, Any]:
        """The sandbox inventory's chart values, for `version`, backing up under a folder of the namespace."""
        ca_secret = "s3-ca" if self.info["s3"].get("ca_bundle") else ""
        text = json.dumps(GROUP_VARS["mlflow_values"]).replace("{{ __sandbox_s3 }}", self.info["s3"]["endpoint"]) \
            .replace("{{ __sandbox_s3_ca_secret }}", ca_secret)
        values = json.loads(text)
        values["mlflow"]["image"]["tag"] = version
        values["backup"]["s3"]["destinationPath"] = f"s3://mlflow-backups/{namespace}"
        if namespace in self.in_cluster_stores:
            values["backup"]["s3"]["endpointURL"] = self.info["s3"]["in_cluster_endpoint"]
        return values

    def use_in_cluster_store(self, namespace: str) -> None:
        """Back `namespace` up through the store's in-cluster Service name, which only pods resolve (an in-cluster
        MinIO): the playbooks must read its catalog from inside the cluster."""
        self.in_cluster_stores.add(namespace)

    def run(self, name: str, namespace: str, version: str, *args: str, extra_vars: dict[str, Any] | None = None,
            **options: Any) -> PlaybookRun:
        """A playbook with the inventory values of `version` (what the inventory of that installation says)."""
        variables = {"mlflow_values": self.values(namespace, version), **(extra_vars or {})}
        return self.playbook(name, namespace, *args, extra_vars=variables, **options)

    def deploy(self, namespace: str, version: str, **options: Any) -> PlaybookRun:
        return self.run("deploy", namespace, version, **options)

    # --- looking at the result -------------------------------------------------------------------------------

    @staticmethod
    def host(namespace: str) -> str:
        """The Route's host OpenShift generates (<name>-<namespace>.<apps domain>); the Ingress gets the same."""
        return f"mlflow-{namespace}.apps.sandbox.local"

    @staticmethod
    def url(namespace: str) -> str:
        return f"http://{Sandbox.host(namespace)}"

    def route_address(self, host: str) -> str:
        for line in Path(self.info["hosts_file"]).read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and host in parts[1:]:
                return parts[0]
        raise LookupError(f"{host} is not in the sandbox's hosts file")

    def mlflow(self, namespace: str) -> MlflowServer:
        """A REST client of the namespace's MLflow through its Route (the test process does not preload
        nss_wrapper: it connects to the Route's address with the Host header a resolving client sends)."""
        host = self.host(namespace)
        session = requests.Session()
        session.headers["Host"] = host
        return MlflowServer(version="?", process=None, url=f"http://{self.route_address(host)}", log_file=None,
                            admin=ADMIN, session=session)

    def kubectl_json(self, *args: str) -> dict[str, Any]:
        return self.cluster.get(*args)

    def snapshot(self) -> dict[str, Any]:
        """Every object of every kind the flows touch: what a client wrote (spec, data, labels, annotations,
        generation), not the status controllers keep updating (which moves resourceVersion by itself)."""
        by_kind = {kind: name for name, kind in SNAPSHOT_KINDS.items()}
        state = {}
        # One kubectl process lists every kind (a snapshot is taken before and after most runs).
        for item in self.cluster.get(",".join(SNAPSHOT_KINDS), "-A")["items"]:
            name = by_kind[(item["apiVersion"].rpartition("/")[0], item["kind"])]
            meta = item["metadata"]
            written = {"spec": item.get("spec"), "data": item.get("data"), "labels": meta.get("labels"),
                       "annotations": meta.get("annotations"), "generation": meta.get("generation"),
                       "uid": meta.get("uid")}
            state[(name, meta.get("namespace"), meta["name"])] = json.dumps(written, sort_keys=True)
        return state


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def runs_around_a_target(client, experiment_name: str, kept: str = "before-target") -> str:
    """A run, a target time 1.5 s later, a run 1.5 s after that: what a recovery to the target keeps and loses (the
    second run is named `after-target`). Returns the target (RFC 3339, UTC)."""
    experiment = client.create_experiment(experiment_name)
    client.log_run(experiment, kept)
    time.sleep(1.5)
    target = utc_now()
    time.sleep(1.5)
    client.log_run(experiment, "after-target")
    return target


def wait_for_base_backup(sandbox: Sandbox, namespace: str) -> None:
    stack = Stack(sandbox.cluster, namespace)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        backups = stack.items("backups.postgresql.cnpg.io")
        if any((b.get("status") or {}).get("phase") == "completed" for b in backups):
            return
        time.sleep(2)
    raise AssertionError("no completed base backup")
