"""kubectl (the real binary) against the sandbox: discovery, strict apply, server-side apply, scale, rollout
status, wait, delete with garbage collection."""

from __future__ import annotations

import textwrap

from tests.sandbox.cluster import SandboxCluster

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: app
            image: busybox:1.36
            env: [{name: MODE, value: blue}]
            ports: [{containerPort: 8080}]
    """)


def test_discovery_lists_the_kinds_with_short_names(cluster: SandboxCluster):
    listing = cluster.kubectl("api-resources", "--no-headers").stdout
    rows = {line.split()[0]: line.split() for line in listing.splitlines()}
    assert rows["deployments"][1] == "deploy"
    assert rows["clusters"][1] == "postgresql.cnpg.io/v1"
    assert "route.openshift.io/v1" in rows["routes"]
    assert cluster.kubectl("get", "ns", "default", "-o", "name").stdout.strip() == "namespace/default"


def test_apply_is_strict_by_default_and_reports_the_unknown_field(cluster: SandboxCluster, namespace: str):
    bad = DEPLOYMENT.replace("containerPort: 8080", "containerPort: 8080, bogus: 1")
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=bad, check=False)
    assert result.returncode != 0
    assert 'unknown field "spec.template.spec.containers[0].ports[0].bogus"' in result.stderr
    assert cluster.kubectl("get", "deploy", "web", "-n", namespace, check=False).returncode != 0


def test_apply_scale_rollout_and_reapply(cluster: SandboxCluster, namespace: str):
    assert "created" in cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=DEPLOYMENT).stdout
    cluster.kubectl("rollout", "status", "deploy/web", "-n", namespace, "--timeout=30s")
    cluster.kubectl("scale", "deploy/web", "-n", namespace, "--replicas=4")
    cluster.kubectl("wait", "deploy/web", "-n", namespace, "--for=jsonpath={.status.readyReplicas}=4",
                    "--timeout=30s")
    scaled = cluster.get("deploy", "web", "-n", namespace)
    assert scaled["spec"]["replicas"] == 4
    assert scaled["status"]["observedGeneration"] == scaled["metadata"]["generation"] == 2
    # Re-applying the file restores the replicas it declares; applying it again changes nothing.
    assert "configured" in cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=DEPLOYMENT).stdout
    assert "unchanged" in cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=DEPLOYMENT).stdout
    after = cluster.get("deploy", "web", "-n", namespace)
    assert after["spec"]["replicas"] == 2
    # Defaults the API server fills in, and ports keyed by (containerPort, protocol).
    container = after["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert after["spec"]["strategy"]["type"] == "RollingUpdate"
    cluster.kubectl("wait", "deploy/web", "-n", namespace, "--for=condition=Available", "--timeout=30s")


def test_server_side_apply_owns_fields_and_reports_conflicts(cluster: SandboxCluster, namespace: str):
    cluster.kubectl("apply", "--server-side", "--field-manager=team-a", "-n", namespace, "-f", "-", stdin=DEPLOYMENT)
    other = DEPLOYMENT.replace("value: blue", "value: green")
    conflict = cluster.kubectl("apply", "--server-side", "--field-manager=team-b", "-n", namespace, "-f", "-",
                               stdin=other, check=False)
    assert conflict.returncode != 0
    assert 'conflict with "team-a"' in conflict.stderr
    assert '.spec.template.spec.containers[name="app"].env[name="MODE"].value' in conflict.stderr
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=team-b", "-n", namespace,
                    "-f", "-", stdin=other)
    live = cluster.get("deploy", "web", "-n", namespace, "--show-managed-fields")
    assert live["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "green"}]
    managers = {entry["manager"]: entry for entry in live["metadata"]["managedFields"]}
    assert managers["team-b"]["operation"] == "Apply"
    # team-a applies again without the env list: the variable it no longer applies stays, team-b owns it.
    without_env = DEPLOYMENT.replace("        env: [{name: MODE, value: blue}]\n", "")
    cluster.kubectl("apply", "--server-side", "--field-manager=team-a", "-n", namespace, "-f", "-",
                    stdin=without_env)
    live = cluster.get("deploy", "web", "-n", namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "green"}]


def test_delete_collects_owned_objects(cluster: SandboxCluster, namespace: str):
    cluster.kubectl("create", "configmap", "owner", "-n", namespace, "--from-literal=a=1")
    owner_uid = cluster.get("configmap", "owner", "-n", namespace)["metadata"]["uid"]
    dependent = textwrap.dedent(f"""\
        apiVersion: v1
        kind: Secret
        metadata:
          name: dependent
          ownerReferences: [{{apiVersion: v1, kind: ConfigMap, name: owner, uid: {owner_uid}}}]
        stringData: {{token: abc}}
        """)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=dependent)
    assert cluster.get("secret", "dependent", "-n", namespace)["data"] == {"token": "YWJj"}
    cluster.kubectl("delete", "configmap", "owner", "-n", namespace, "--wait=true")
    gone = cluster.kubectl("get", "secret", "dependent", "-n", namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_job_completes_and_wait_sees_it(cluster: SandboxCluster, namespace: str):
    job_manifest = textwrap.dedent("""\
        apiVersion: batch/v1
        kind: Job
        metadata: {name: once}
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers: [{name: tool, image: busybox:1.36, command: ["true"]}]
        """)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=job_manifest)
    cluster.kubectl("wait", "job/once", "-n", namespace, "--for=condition=Complete", "--timeout=30s")
    job = cluster.get("job", "once", "-n", namespace)
    assert job["status"]["succeeded"] == 1
    # The API server generated the selector from the Job's uid, as a real one does.
    assert job["spec"]["selector"]["matchLabels"] == {
        "batch.kubernetes.io/controller-uid": job["metadata"]["uid"]}
    # A Job's pod template cannot change.
    changed = job_manifest.replace("image: busybox:1.36", "image: busybox:1.37")
    refused = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=changed, check=False)
    assert refused.returncode != 0 and "spec.template: Invalid value: field is immutable" in refused.stderr


def test_a_restart_policy_a_job_cannot_have_is_refused(cluster: SandboxCluster, namespace: str):
    manifest = textwrap.dedent("""\
        apiVersion: batch/v1
        kind: Job
        metadata: {name: wrong}
        spec:
          template:
            spec:
              containers: [{name: tool, image: registry.example.com/tool:1}]
        """)
    refused = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest, check=False)
    assert refused.returncode != 0
    assert 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"' in refused.stderr
