"""`pods/exec` and `pods/log` with the real clients: kubectl exec/logs (WebSocket `v5.channel.k8s.io`), the kubernetes
client's stream (kubernetes.core.k8s_exec) and k8s_log, the kubelet's older WebSocket protocols; on a pod of the
MLflow image and on a CNPG instance, where `psql` is the superuser over the socket as with `kubectl cnpg psql`.

One namespace for the module: a Deployment of the MLflow image (a small HTTP server instead of MLflow itself: the
image's environment is what exec must show) and a CNPG Cluster without archiving. Each test names the upstream
code whose behaviour or message it checks.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import requests
import websocket

from tests.sandbox.cluster import KUBECTL, SandboxCluster
from tests.sandbox.runtime_stack import wait_until
from tests.support.versions import NEWEST_MLFLOW

pytestmark = pytest.mark.slow

GREETING = "hello from the pod spec"


def _deployment() -> dict:
    container = {"name": "server", "image": f"quay.io/mlops/mlflow:v{NEWEST_MLFLOW}",
                 "command": ["python", "-u", "-m", "http.server", "8080", "--bind", "0.0.0.0"],
                 "env": [{"name": "GREETING", "value": GREETING}],
                 "volumeMounts": [{"name": "greeting", "mountPath": "/etc/greeting"}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [container],
                                           "volumes": [{"name": "greeting", "configMap": {"name": "greeting"}}]}}}}


@pytest.fixture(name="pods", scope="module")
def fixture_pods(real_cluster: SandboxCluster) -> Iterator[dict[str, str]]:
    """namespace, the MLflow image's pod and the CNPG instance pod, both running."""
    namespace = f"exec-{uuid.uuid4().hex[:6]}"
    real_cluster.kubectl("create", "namespace", namespace)
    real_cluster.kubectl("-n", namespace, "create", "configmap", "greeting", "--from-literal=text=mounted")
    cluster = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
               "spec": {"instances": 1, "storage": {"size": "1Gi"}}}
    for manifest in (_deployment(), cluster):
        real_cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(manifest))
    real_cluster.kubectl("-n", namespace, "rollout", "status", "deployment/web", "--timeout=120s")
    real_cluster.kubectl("-n", namespace, "wait", "--for=condition=Ready", "cluster/pg", "--timeout=120s")
    web = real_cluster.get("pods", "-n", namespace, "-l", "app=web")["items"][0]["metadata"]["name"]
    yield {"namespace": namespace, "web": web, "instance": "pg-1"}
    real_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def _exec(cluster: SandboxCluster, pods: dict[str, str], *args: str, stdin: str | None = "", token: str = ""):
    identity = ("--context", "sandbox-tls", "--token", token) if token else ()
    return cluster.kubectl(*identity, "-n", pods["namespace"], "exec", *args, stdin=stdin, check=False)


def test_kubectl_exec_runs_in_the_containers_environment_and_returns_its_exit_code(real_cluster, pods):
    """kubectl exec (client-go tools/remotecommand websocket.go, v5): the command gets the container's env, the
    image's programs and its mounts; the exit code comes back as the Status of the error channel (kubelet
    remotecommand/exec.go, NonZeroExitCode) and kubectl exits with it ("command terminated with exit code 3")."""
    web = pods["web"]
    shown = _exec(real_cluster, pods, web, "--", "sh", "-c", 'echo "$GREETING"; echo "$HOSTNAME"; echo oops >&2')
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [GREETING, web] and shown.stderr == "oops\n"
    version = _exec(real_cluster, pods, web, "--", "python", "-c",
                    "import importlib.metadata as m; print(m.version('mlflow'))")
    assert version.stdout.strip() == NEWEST_MLFLOW, version.stderr  # the image's venv is first on PATH
    assert _exec(real_cluster, pods, web, "--", "cat", "/etc/greeting/text").stdout == "mounted"

    failed = _exec(real_cluster, pods, web, "--", "sh", "-c", "exit 3")
    assert failed.returncode == 3 and "command terminated with exit code 3" in failed.stderr

    echoed = _exec(real_cluster, pods, "-i", web, "--", "cat", stdin="line 1\nline 2\n")
    assert echoed.returncode == 0 and echoed.stdout == "line 1\nline 2\n"  # stdin closed by v5's CLOSE signal

    missing = _exec(real_cluster, pods, web, "--", "no-such-program")
    assert missing.returncode == 1
    assert 'exec: "no-such-program": executable file not found in $PATH' in missing.stderr  # runc's message


def test_psql_in_the_cnpg_instance_is_the_superuser_over_its_socket(real_cluster, pods):
    """The instance container's env is CNPG's (pkg/specs/pods.go CreatePodEnvConfig: PGHOST the socket folder,
    PGPORT, PGDATA, ...) and its user postgres: `psql` as `kubectl cnpg psql` runs it (internal/cmd/plugin/psql/
    psql.go: `kubectl exec -t -i -c postgres <pod> -- psql -U postgres ...`) is the superuser; archive_timeout is
    CNPG's global default 5min (pkg/postgres/configuration.go) also without archiving."""
    instance = pods["instance"]
    pod = real_cluster.get("pod", instance, "-n", pods["namespace"])
    assert [c["name"] for c in pod["spec"]["containers"]] == ["postgres"]
    assert {"name": "PGHOST", "value": "/controller/run"} in pod["spec"]["containers"][0]["env"]
    assert pod["spec"]["nodeName"] == "sandbox"  # bound by the scheduler like every pod

    who = _exec(real_cluster, pods, instance, "-c", "postgres", "--", "psql", "-tAc",
                "select current_user, usesuper, 1 from pg_user where usename = current_user")
    assert who.stdout.strip() == "postgres|t|1", who.stderr
    plugin_form = _exec(real_cluster, pods, "-t", "-i", "-c", "postgres", instance, "--", "psql", "-U", "postgres",
                        "-c", "show archive_timeout")
    assert plugin_form.returncode == 0, plugin_form.stderr
    assert plugin_form.stdout.split()[:3] == ["archive_timeout", "-----------------", "5min"]


def test_k8s_exec_and_k8s_log_through_kubernetes_core(real_cluster, pods):
    """kubernetes.core.k8s_exec reads the Status of channel 3 for `rc` (plugins/modules/k8s_exec.py; the client's
    kubernetes.stream offers v5 then v4); k8s_log reads pods/log with container and tailLines."""
    namespace, web, instance = pods["namespace"], pods["web"], pods["instance"]
    run = real_cluster.playbook(f"""\
        - name: A failing command in the MLflow image's pod
          kubernetes.core.k8s_exec:
            namespace: {namespace}
            pod: {web}
            command: sh -c 'echo out; echo err >&2; exit 5'
          register: r_failed
          failed_when: false
        - name: psql in the instance container
          kubernetes.core.k8s_exec:
            namespace: {namespace}
            pod: {instance}
            container: postgres
            command: psql -tAc 'show archive_timeout'
          register: r_psql
        - name: The MLflow image's pod log
          kubernetes.core.k8s_log:
            namespace: {namespace}
            name: {web}
          register: r_web_log
        - name: The instance's log, its last line
          kubernetes.core.k8s_log:
            namespace: {namespace}
            name: {instance}
            container: postgres
            tail_lines: 1
          register: r_instance_log
        """)
    failed = run["r_failed"]
    assert (failed["rc"], failed["stdout"], failed["stderr"]) == (5, "out\n", "err\n")
    assert run["r_psql"]["rc"] == 0 and run["r_psql"]["stdout"] == "5min\n"
    assert run["r_web_log"]["log_lines"][0].startswith("Serving HTTP on ")
    assert run["r_instance_log"]["log"].count("\n") == 1 and " LOG: " in run["r_instance_log"]["log"]


def test_kubectl_logs_on_both_pods(real_cluster, pods):
    """kubectl logs: the container's output (pods/log, container and tailLines)."""
    namespace = pods["namespace"]
    web = real_cluster.kubectl("-n", namespace, "logs", "deployment/web").stdout
    assert web.startswith("Serving HTTP on ")
    instance = real_cluster.kubectl("-n", namespace, "logs", pods["instance"], "-c", "postgres", "--tail=50").stdout
    assert "database system is ready to accept connections" in instance


def _websocket(cluster: SandboxCluster, pods: dict[str, str], query: str, protocol: str) -> tuple[str, list]:
    """The messages of one exec over a raw WebSocket offering `protocol` only, up to the close frame."""
    url = (cluster.server.replace("http://", "ws://") +
           f"/api/v1/namespaces/{pods['namespace']}/pods/{pods['web']}/exec?{query}")
    connection = websocket.create_connection(url, subprotocols=[protocol], timeout=30)
    messages = []
    while True:
        opcode, data = connection.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            connection.close()
            return connection.subprotocol, messages
        messages.append(data)


def test_the_kubelets_older_websocket_protocols(real_cluster, pods):
    """What kube-apiserver proxies to the kubelet (kubelet cri/streaming/remotecommand/websocket.go and
    httpstream.go): v4 writes a JSON Status on channel 3, `base64.channel.k8s.io` base64-encodes each message after
    an ASCII channel digit, and the pre-v4 protocols write only a failure's message. Each starts with an empty
    message on the first output channel."""
    query = "command=sh&command=-c&command=echo+hi%3B+exit+2&stdout=true&stderr=true"
    protocol, messages = _websocket(real_cluster, pods, query, "v4.channel.k8s.io")
    assert protocol == "v4.channel.k8s.io"
    assert messages[:2] == [b"\x01", b"\x01hi\n"]
    status = json.loads(messages[-1][1:])
    assert messages[-1][:1] == b"\x03" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "2"}]

    protocol, messages = _websocket(real_cluster, pods, query, "base64.channel.k8s.io")
    assert protocol == "base64.channel.k8s.io" and messages[:2] == [b"1", b"1aGkK"]  # "hi\n"
    assert messages[-1].startswith(b"3")  # the failure's message, base64


def test_a_view_binding_reads_logs_but_cannot_exec(real_cluster, pods):
    """ClusterRole view has pods/log but not pods/exec (bootstrap policy). kubectl's WebSocket GET asks for `get`
    (requestinfo.go: GET is get in 1.33), is refused, and kubectl falls back to SPDY (client-go remotecommand
    fallback.go), whose POST is refused for `create`: the message kubectl prints."""
    namespace = pods["namespace"]
    real_cluster.kubectl("create", "serviceaccount", "viewer", "-n", namespace)
    real_cluster.kubectl("create", "rolebinding", "viewer-view", "--clusterrole=view",
                         f"--serviceaccount={namespace}:viewer", "-n", namespace)
    token = real_cluster.kubectl("create", "token", "viewer", "-n", namespace).stdout.strip()

    refused = _exec(real_cluster, pods, pods["instance"], "--", "psql", "-c", "select 1", token=token)
    assert refused.returncode == 1
    assert (f'pods "{pods["instance"]}" is forbidden: User "system:serviceaccount:{namespace}:viewer" cannot '
            f'create resource "pods/exec" in API group "" in the namespace "{namespace}"') in refused.stderr
    upgrade = requests.get(f"{real_cluster.server}/api/v1/namespaces/{namespace}/pods/{pods['web']}/exec"
                           "?command=true&stdout=true", timeout=10,
                           headers={"Authorization": f"Bearer {token}", "Connection": "Upgrade",
                                    "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                    "Sec-WebSocket-Protocol": "v5.channel.k8s.io"})
    assert upgrade.status_code == 403 and 'cannot get resource "pods/exec"' in upgrade.json()["message"]

    logs = real_cluster.kubectl("--context", "sandbox-tls", "--token", token, "-n", namespace, "logs",
                                pods["instance"], "--tail=1", check=False)
    assert logs.returncode == 0 and logs.stdout.strip()


def test_exec_refusals_are_kube_apiservers(real_cluster, pods):
    """Before connecting (pkg/registry/core/pod/strategy.go streamLocation, validateContainer): an unknown container
    is a 400; an upgrade is required (genericrest.UpgradeAwareProxyHandler); SPDY, which the sandbox does not
    implement, is a 501 that says so. A container that does not run has nothing to exec in: kubelet GetExec's
    `container not found`, wrapped by the stream translator in an InternalError."""
    namespace, web = pods["namespace"], pods["web"]
    wrong = _exec(real_cluster, pods, web, "-c", "nope", "--", "true")
    assert f"container nope is not valid for pod {web}" in wrong.stderr
    url = f"{real_cluster.server}/api/v1/namespaces/{namespace}/pods/{web}/exec?command=true&stdout=true"
    plain = requests.post(url, timeout=10)
    assert plain.status_code == 400 and plain.json()["message"] == "Upgrade request required"
    spdy = requests.post(url, timeout=10, headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1"})
    assert spdy.status_code == 501 and "WebSocket only" in spdy.json()["message"]

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "never-pulled"},
           "spec": {"containers": [{"name": "app", "image": "registry.example.com/nothing:1", "command": ["x"]}]}}
    real_cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(pod))
    wait_until(lambda: real_cluster.get("pod", "never-pulled", "-n", namespace)["spec"].get("nodeName"), 30,
               "the pod to be bound")
    waiting = _exec(real_cluster, pods, "never-pulled", "--", "true")
    assert waiting.returncode == 1
    assert 'Internal error occurred: unable to upgrade connection: container not found ("app")' in waiting.stderr


def test_a_pod_no_node_runs_has_no_host_to_exec_in(cluster, namespace):
    """With the stand-in controllers nothing binds a pod: streamLocation's `pod x does not have a host assigned`."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unbound"},
           "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sleep", "60"]}]}}
    cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(pod))
    result = cluster.kubectl("-n", namespace, "exec", "unbound", "--", "true", check=False)
    assert result.returncode == 1
    assert "Error from server (BadRequest): pod unbound does not have a host assigned" in result.stderr


def test_a_command_ends_with_its_container(real_cluster, pods):
    """A command started by exec lives in the container: when the pod goes, it is killed with it, and the exit
    code is the signal's (128 + SIGKILL), as runc reports a killed process."""
    namespace = pods["namespace"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "short-lived"},
           "spec": {"terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "600"]}]}}
    real_cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(pod))
    real_cluster.kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod/short-lived", "--timeout=60s")
    seconds = str(300 + uuid.uuid4().int % 600)  # a command line no other test runs
    with subprocess.Popen([KUBECTL, "-n", namespace, "exec", "short-lived", "--", "sleep", seconds],
                          env=real_cluster.env, stderr=subprocess.PIPE, text=True) as session:
        def started() -> bool:
            listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
            return f"sleep {seconds}" in listing.splitlines()
        try:
            wait_until(started, 30, "the exec'd command to run")
            real_cluster.kubectl("-n", namespace, "delete", "pod", "short-lived", "--wait=false")
            stderr = session.communicate(timeout=60)[1]
        finally:
            session.kill()
    assert session.returncode == 137 and "command terminated with exit code 137" in stderr
