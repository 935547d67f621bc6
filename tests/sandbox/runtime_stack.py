"""The chart deployed into a sandbox with real processes, and ways to look at what runs behind it.

The test process does not preload nss_wrapper, so it reaches Services at their loopback addresses (127.96.A.B
for the cluster IP 10.96.A.B) with the Host header a client using the name would send; subprocesses get the
sandbox's resolver environment and use the names themselves.
"""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg2
import requests
import yaml

from tests.sandbox.cluster import REPO_ROOT, SandboxCluster

CHART = REPO_ROOT / "charts" / "mlflow"
ADMIN = ("admin", "Adm1n-test-Passw0rd")
BACKUP_BUCKET = "sandbox-backups"
ARTIFACT_BUCKET = "sandbox-artifacts"
S3_CA_SECRET = "s3-ca"


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (requests.RequestException, psycopg2.OperationalError, AssertionError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def run_query(query: str, **connection) -> list[tuple]:
    """One autocommit statement on a new connection; its rows (none for a statement without a result)."""
    conn = psycopg2.connect(**connection)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@dataclass
class Stack:
    cluster: SandboxCluster
    namespace: str

    # --- sandbox facts ---------------------------------------------------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        return json.loads(self.cluster.sandbox("status").stdout)

    @property
    def s3_endpoint(self) -> str:
        return self.info["s3"]["endpoint"]

    def s3(self):
        s3 = self.info["s3"]
        return boto3.client("s3", endpoint_url=s3["endpoint"], aws_access_key_id=s3["access_key_id"],
                            aws_secret_access_key=s3["secret_access_key"], region_name=s3["region"],
                            verify=s3.get("ca_bundle") or True)

    def service_address(self, name: str) -> str:
        """The Service's loopback address: 127.K.A.B for the cluster IP 10.96.A.B (K: this sandbox's /16)."""
        octet = self.info["loopback_network"].split(".")[1]
        third, fourth = self.get("service", name)["spec"]["clusterIP"].split(".")[2:]
        return f"127.{octet}.{int(third) % 64}.{fourth}"

    def resolver_env(self) -> dict[str, str]:
        return dict(self.cluster.env, **self.info["resolver_env"])

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return self.cluster.get(kind, name, "-n", self.namespace)

    def items(self, kind: str, *selector: str) -> list[dict[str, Any]]:
        return self.cluster.get(kind, "-n", self.namespace, *selector)["items"]

    def apply(self, manifest: dict[str, Any]) -> None:
        self.cluster.kubectl("apply", "-n", self.namespace, "-f", "-", stdin=json.dumps(manifest))

    # --- deploy ------------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """What the deploy role creates before the chart: buckets, S3 credentials, flask secret."""
        s3 = self.s3()
        for bucket in (BACKUP_BUCKET, ARTIFACT_BUCKET):
            if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
                s3.create_bucket(Bucket=bucket)
        info = self.info["s3"]
        self.cluster.kubectl("create", "namespace", self.namespace)
        self.cluster.kubectl("-n", self.namespace, "create", "secret", "generic", "s3-credentials",
                             f"--from-literal=AWS_ACCESS_KEY_ID={info['access_key_id']}",
                             f"--from-literal=AWS_SECRET_ACCESS_KEY={info['secret_access_key']}")
        self.cluster.kubectl("-n", self.namespace, "create", "secret", "generic", "mlflow-flask-secret",
                             "--from-literal=MLFLOW_FLASK_SERVER_SECRET_KEY=sandbox-flask-secret")
        if info.get("ca_bundle"):
            self.cluster.kubectl("-n", self.namespace, "create", "secret", "generic", S3_CA_SECRET,
                                 f"--from-file=ca.crt={info['ca_bundle']}")

    def values(self, version: str, **extra: Any) -> dict[str, Any]:
        # The S3's private CA (HTTPS, the sandbox's default), as deploy.yml passes it: the s3-ca Secret, named by
        # the ObjectStore's endpointCA and the server's artifact client.
        ca = {"secretName": S3_CA_SECRET if self.info["s3"].get("ca_bundle") else ""}
        values = {
            "mlflow": {"workers": 1, "image": {"tag": version},
                       "artifacts": {"endpointURL": self.s3_endpoint, "destination": f"s3://{ARTIFACT_BUCKET}/",
                                     "endpointCA": ca}},
            "backup": {"s3": {"endpointURL": self.s3_endpoint, "endpointCA": ca,
                              "destinationPath": f"s3://{BACKUP_BUCKET}/{self.namespace}"}},
            "route": {"appsDomain": "apps.sandbox.local"},
        }
        for key, value in extra.items():
            values[key] = {**values.get(key, {}), **value}
        return values

    def helm_upgrade(self, values: dict[str, Any]) -> None:
        path = self.cluster.root / "playbooks" / f"values-{self.namespace}-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump(values), encoding="utf-8")
        self.cluster.helm("upgrade", "-i", "mlflow", str(CHART), "-n", self.namespace, "-f", str(path))
        self.start_missing_builds()

    def start_missing_builds(self) -> None:
        """Start a build of each BuildConfig whose ImageStream tag has no image and that never built, as the
        playbooks do (roles/common/tasks/wait_image.yml): the chart's BuildConfigs have no trigger."""
        tagged = {tag["tag"] for stream in self.items("imagestreams.image.openshift.io")
                  for tag in (stream.get("status") or {}).get("tags") or [] if tag.get("items")}
        for build_config in self.items("buildconfigs.build.openshift.io"):
            output = build_config["spec"]["output"]["to"]["name"].split(":", 1)[-1]
            if output in tagged or (build_config.get("status") or {}).get("lastVersion"):
                continue
            name = build_config["metadata"]["name"]
            request = {"kind": "BuildRequest", "apiVersion": "build.openshift.io/v1", "metadata": {"name": name},
                       "triggeredBy": [{"message": "Manually triggered"}]}
            self.cluster.kubectl("create", "--raw",
                                 f"/apis/build.openshift.io/v1/namespaces/{self.namespace}/buildconfigs/{name}/instantiate",
                                 "-f", "-", stdin=json.dumps(request))

    def write_auth_config(self, cluster_name: str) -> None:
        """basic-auth.ini pointing at the cluster's auth database through its -rw Service name, as deploy does."""
        user, password = self.app_credentials(cluster_name)
        ini = textwrap.dedent(f"""\
            [mlflow]
            default_permission = READ
            database_uri = postgresql+psycopg2://{user}:{password}@{cluster_name}-rw:5432/mlflow_auth
            admin_username = {ADMIN[0]}
            admin_password = {ADMIN[1]}
            authorization_function = mlflow.server.auth:authenticate_request_basic_auth
            """).replace("%", "%%")
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "mlflow-auth-config"},
                  "data": {"basic-auth.ini": base64.b64encode(ini.encode()).decode()}}
        self.apply(secret)

    # --- PostgreSQL --------------------------------------------------------------------------------------------

    def app_credentials(self, cluster_name: str) -> tuple[str, str]:
        data = self.get("secret", f"{cluster_name}-app")["data"]
        return base64.b64decode(data["username"]).decode(), base64.b64decode(data["password"]).decode()

    def sql(self, cluster_name: str, query: str, dbname: str = "mlflow") -> list[tuple]:
        """A query as the application user, through the cluster's -rw Service (a password login over TCP)."""
        user, password = self.app_credentials(cluster_name)
        return run_query(query, host=self.service_address(f"{cluster_name}-rw"), port=5432, user=user,
                         password=password, dbname=dbname, connect_timeout=5)

    def superuser_sql(self, cluster_name: str, query: str, dbname: str = "postgres") -> list[tuple]:
        """As `postgres` over the instance's socket: what the operator (and `kubectl cnpg psql`) can do."""
        pod = self.get("pod", f"{cluster_name}-1")
        socket_dir = pod["metadata"]["annotations"]["sandbox.mlops.io/postgres-socket"]
        return run_query(query, host=socket_dir, port=5432, user="postgres", dbname=dbname, connect_timeout=5)

    def switch_wal_and_wait_archived(self, cluster_name: str) -> None:
        segment = self.superuser_sql(cluster_name, "SELECT pg_walfile_name(pg_switch_wal())")[0][0]
        wait_until(lambda: (self.superuser_sql(cluster_name, "SELECT last_archived_wal FROM pg_stat_archiver")[0][0]
                            or "") >= segment, 60, f"WAL segment {segment} to be archived")

    def wait_condition(self, kind: str, name: str, condition: str, timeout: float = 120,
                       status: str = "True") -> dict[str, Any]:
        def met():
            obj = self.get(kind, name)
            found = [c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == condition]
            return obj if found and found[0]["status"] == status else None
        try:
            return wait_until(met, timeout, f"{kind}/{name} condition {condition}={status}")
        except AssertionError as error:
            raise AssertionError(f"{error}; status: {json.dumps(self.get(kind, name).get('status'))[:3000]}") from None

    # --- MLflow ------------------------------------------------------------------------------------------------

    def mlflow(self, method: str, endpoint: str, **kwargs) -> requests.Response:
        """Call MLflow through its Service, as a client in the namespace would (Host: mlflow.<ns>.svc:5000)."""
        address = self.service_address("mlflow")
        return requests.request(method, f"http://{address}:5000{endpoint}", auth=ADMIN, timeout=30,
                                headers={"Host": f"mlflow.{self.namespace}.svc:5000"}, **kwargs)

    def pod_resolver_env(self) -> dict[str, str]:
        """What a pod of this namespace resolves names with: the cluster DNS (network.py, hosts.d/<namespace>)."""
        hosts = Path(self.info["hosts_file"]).parent / "hosts.d" / self.namespace
        return dict(self.resolver_env(), NSS_WRAPPER_HOSTS=str(hosts))

    def curl(self, url: str, in_pod: bool = False) -> subprocess.CompletedProcess:
        """curl by name, as a control-node process resolves names (or, `in_pod`, as a pod of the namespace)."""
        return subprocess.run(["curl", "-sS", "-u", ":".join(ADMIN), "--max-time", "20", url],
                              env=self.pod_resolver_env() if in_pod else self.resolver_env(), capture_output=True,
                              text=True, timeout=60, check=False)

    def server_pods(self) -> list[dict[str, Any]]:
        return self.items("pods", "-l", "app.kubernetes.io/component=server")


def processes_of(state_dir: Path, namespace: str) -> list[str]:
    """Command lines of live processes whose working folder belongs to `namespace` in the sandbox."""
    marker = str(state_dir / "runtime")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = str(Path(entry / "cwd").readlink())
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(marker) and f"/{namespace}/" in cwd + "/":
            found.append(cmdline)
    return found
