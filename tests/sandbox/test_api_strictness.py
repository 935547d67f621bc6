"""API behaviours a real cluster has, each next to the real source it copies (issue "Sandbox strict, part 2"):
CustomResourceDefinitions, StatefulSet and DaemonSet, Pod spec immutability, PartialObjectMetadata, the paused
Deployment condition and OpenShift's ConfigChange build trigger. Stand-in controllers: nothing runs behind the
objects (the runtime side, graceful Pod deletion and build logs, is in test_runtime_workloads.py)."""

from __future__ import annotations

import json
import textwrap
import time

from tests.sandbox.cluster import SandboxCluster

PAUSE = 0.2


def wait_for(predicate, timeout: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(PAUSE)
    raise AssertionError(f"timed out waiting for {what}")


def test_crds_of_the_known_kinds_are_listed_as_the_release_manifests_carry_them(cluster: SandboxCluster):
    """The CRDs of CNPG 1.30.0 and the Barman Cloud Plugin 0.14.0 (releases/cnpg-1.30.0.yaml,
    plugin-barman-cloud manifest.yaml): no version label there, so a preflight reads the schema. Route is no CRD on
    OpenShift: openshift-apiserver serves it (openshift/microshift#788 replaced it by a CRD only on MicroShift)."""
    names = cluster.kubectl("get", "crd", "-o", "name").stdout.split()
    assert {"customresourcedefinition.apiextensions.k8s.io/clusters.postgresql.cnpg.io",
            "customresourcedefinition.apiextensions.k8s.io/objectstores.barmancloud.cnpg.io"} <= set(names)
    assert not [n for n in names if "openshift.io" in n]
    crd = cluster.get("crd", "backups.postgresql.cnpg.io")
    assert crd["metadata"]["annotations"] == {"controller-gen.kubebuilder.io/version": "v0.21.0"}
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]} == {"NamesAccepted": "True",
                                                                             "Established": "True"}
    assert crd["status"]["storedVersions"] == ["v1"]
    # What tells CNPG >= 1.26 apart: the Backup status records the PostgreSQL major.
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert "majorVersion" in status["properties"]
    table = cluster.kubectl("get", "crd", "clusters.postgresql.cnpg.io").stdout
    assert table.splitlines()[0].split()[:3] == ["NAME", "CREATED", "AT"]


WIDGET_CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names: {kind: Widget, plural: widgets, shortNames: [wd]}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec: {type: object, properties: {size: {type: integer}}}
    """)


def test_a_created_crd_serves_its_kind_until_deleted_with_its_objects(cluster: SandboxCluster, namespace: str):
    """apiextensions-apiserver: the kind is served once Established, validated by its schema; deleting the CRD
    deletes its custom resources; the name must be <plural>.<group> (validation.go ValidateCustomResourceDefinition)."""
    bad = cluster.kubectl("apply", "-f", "-", stdin=WIDGET_CRD.replace("name: widgets.example.com",
                                                                       "name: gadgets.example.com"), check=False)
    assert 'must be spec.names.plural+"."+spec.group' in bad.stderr
    cluster.kubectl("apply", "-f", "-", stdin=WIDGET_CRD)
    try:
        cluster.kubectl("wait", "crd/widgets.example.com", "--for=condition=Established", "--timeout=10s")
        widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: %s}\n"
        cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=widget % "3")
        assert cluster.get("wd", "w1", "-n", namespace)["spec"] == {"size": 3}
        refused = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=widget % '"big"', check=False)
        assert "spec.size" in refused.stderr and "must be of type integer" in refused.stderr
    finally:
        cluster.kubectl("delete", "crd", "widgets.example.com")
    gone = cluster.kubectl("get", "widgets", "-n", namespace, check=False)
    assert gone.returncode != 0
    cluster.kubectl("apply", "-f", "-", stdin=WIDGET_CRD)
    try:
        assert cluster.kubectl("get", "widgets", "-A", "-o", "name").stdout.strip() == ""
    finally:
        cluster.kubectl("delete", "crd", "widgets.example.com")


def test_statefulset_and_daemonset_defaults_and_wait_through_kubernetes_core(cluster: SandboxCluster,
                                                                             namespace: str):
    """kubernetes.core's waiter reads `spec.updateStrategy.type` of a StatefulSet: before the sandbox applied
    SetDefaults_StatefulSet (kubernetes pkg/apis/apps/v1/defaults.go) `wait: true` crashed the module with
    "'NoneType' object has no attribute 'type'". DaemonSets are served with SetDefaults_DaemonSet; metadata_only
    reads PartialObjectMetadata (apiserver handlers/response.go)."""
    template = {"metadata": {"labels": {"app": "{app}"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}

    def workload(kind: str, app: str, extra: dict) -> str:
        body = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": app, "namespace": namespace},
                "spec": dict(extra, selector={"matchLabels": {"app": app}},
                             template=json.loads(json.dumps(template).replace("{app}", app)))}
        return json.dumps(body)

    run = cluster.playbook(f"""\
        - name: A StatefulSet, waited for
          kubernetes.core.k8s:
            wait: true
            wait_timeout: 30
            definition: {workload("StatefulSet", "db", {"replicas": 2, "serviceName": "db"})}
          register: r_sts
        - name: A DaemonSet, waited for
          kubernetes.core.k8s:
            wait: true
            wait_timeout: 30
            definition: {workload("DaemonSet", "agent", {})}
          register: r_ds
        - name: Metadata only, one object
          kubernetes.core.k8s_info:
            kind: StatefulSet
            namespace: {namespace}
            name: db
            metadata_only: true
          register: r_one
        - name: Metadata only, a list
          kubernetes.core.k8s_info:
            kind: DaemonSet
            namespace: {namespace}
            metadata_only: true
          register: r_list
        """)
    sts = run["r_sts"]["result"]
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert sts["spec"]["revisionHistoryLimit"] == 10
    assert sts["status"]["readyReplicas"] == 2 and sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    ds = run["r_ds"]["result"]
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["status"]["numberReady"] == ds["status"]["desiredNumberScheduled"] == 1
    for registered in ("r_one", "r_list"):
        resource = run[registered]["resources"][0]
        assert set(resource) == {"apiVersion", "kind", "metadata"}
        assert resource["kind"] == "PartialObjectMetadata" and resource["apiVersion"] == "meta.k8s.io/v1"
    assert run["r_list"]["resources"][0]["metadata"]["name"] == "agent"
    # What a create answers before any controller wrote a status: the registry's empty StatefulSetStatus
    # (PrepareForCreate, pkg/registry/apps/statefulset/strategy.go), whatever status the body carried. Without it the
    # waiter above read `status` None when it came before the controller (a flake under load).
    body = json.loads(workload("StatefulSet", "fresh", {"replicas": 1, "serviceName": "fresh"}))
    body["status"] = {"replicas": 5, "readyReplicas": 5}
    created = json.loads(cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-",
                                         stdin=json.dumps(body)).stdout)
    assert created["status"] == {"replicas": 0, "availableReplicas": 0}, created.get("status")


POD = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: fixed, labels: {a: "1"}}
    spec:
      containers: [{name: c, image: "busybox:1.36", command: [sleep, "3600"]}]
    """)


def test_a_pod_spec_changes_only_in_its_mutable_fields(cluster: SandboxCluster, namespace: str):
    """ValidatePodUpdate (kubernetes pkg/apis/core/validation/validation.go): images, activeDeadlineSeconds,
    added tolerations may change; anything else is refused with its message. Labels are metadata: they may."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=POD)
    cluster.kubectl("apply", "-n", namespace, "-f", "-",
                    stdin=POD.replace("busybox:1.36", "busybox:1.37").replace('a: "1"', 'a: "2"'))
    assert cluster.get("pod", "fixed", "-n", namespace)["spec"]["containers"][0]["image"] == "busybox:1.37"
    refused = cluster.kubectl("apply", "-n", namespace, "-f", "-",
                              stdin=POD.replace("busybox:1.36", "busybox:1.37").replace('"3600"', '"60"'),
                              check=False)
    assert refused.returncode != 0
    assert ('The Pod "fixed" is invalid: spec: Forbidden: pod updates may not change fields other than '
            '`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,'
            '`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` '
            '(allow it to be set to 1 if it was previously negative)') in refused.stderr
    # No node runs the stand-ins' pods (no spec.nodeName): deleted at once, as podStrategy.CheckGracefulDelete.
    cluster.kubectl("delete", "pod", "fixed", "-n", namespace, "--wait=false")
    assert cluster.kubectl("get", "pod", "fixed", "-n", namespace, check=False).returncode != 0


def test_a_paused_deployment_reports_it(cluster: SandboxCluster, namespace: str):
    """checkPausedConditions (kubernetes pkg/controller/deployment/progress.go): Progressing Unknown,
    DeploymentPaused "Deployment is paused"; resumed, progress is reported again."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "p"},
                  "spec": {"paused": True, "selector": {"matchLabels": {"app": "p"}},
                           "template": {"metadata": {"labels": {"app": "p"}},
                                        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(deployment))

    def progressing():
        found = cluster.get("deploy", "p", "-n", namespace).get("status", {}).get("conditions", [])
        return next((c for c in found if c["type"] == "Progressing"), None)
    paused = wait_for(progressing, what="a Progressing condition")
    assert (paused["status"], paused["reason"], paused["message"]) == ("Unknown", "DeploymentPaused",
                                                                       "Deployment is paused")
    cluster.kubectl("rollout", "resume", "deploy/p", "-n", namespace)
    resumed = wait_for(lambda: (c := progressing()) and c["reason"] != "DeploymentPaused" and c, what="resume")
    assert resumed["status"] == "True"


BUILD_CONFIG = textwrap.dedent("""\
    apiVersion: build.openshift.io/v1
    kind: BuildConfig
    metadata: {name: img}
    spec:
      triggers: [{type: ConfigChange}]
      source: {type: Dockerfile, dockerfile: "FROM ghcr.io/mlflow/mlflow:v3.5.0\\n"}
      strategy: {type: Docker, dockerStrategy: {}}
      output: {to: {kind: ImageStreamTag, name: "img:v3.5.0"}}
    """)


def test_config_change_builds_once_on_creation_and_instantiate_starts_more(cluster: SandboxCluster,
                                                                           namespace: str):
    """openshift-controller-manager buildconfig_controller.go handleBuildConfig: a ConfigChange trigger instantiates
    only while status.lastVersion is 0 ("Build configuration change", LastVersion 0), so editing a BuildConfig
    starts no build; `instantiate` (oc start-build) does; a request whose lastVersion is stale is refused
    (openshift-apiserver build generator checkLastVersion)."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=BUILD_CONFIG)

    def builds():
        return sorted(b["metadata"]["name"] for b in cluster.get("builds", "-n", namespace)["items"])
    wait_for(lambda: builds() == ["img-1"], what="build img-1")
    first = cluster.get("build", "img-1", "-n", namespace)
    assert first["spec"]["triggeredBy"] == [{"message": "Build configuration change"}]
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=BUILD_CONFIG.replace("mlflow:v3.5.0", "mlflow:v3.5.1"))
    time.sleep(1)
    assert builds() == ["img-1"]
    path = f"/apis/build.openshift.io/v1/namespaces/{namespace}/buildconfigs/img/instantiate"
    request = {"kind": "BuildRequest", "apiVersion": "build.openshift.io/v1", "metadata": {"name": "img"},
               "triggeredBy": [{"message": "Manually triggered"}]}
    started = json.loads(cluster.kubectl("create", "--raw", path, "-f", "-", stdin=json.dumps(request)).stdout)
    assert started["metadata"]["name"] == "img-2"
    assert cluster.get("bc", "img", "-n", namespace)["status"]["lastVersion"] == 2
    stale = cluster.kubectl("create", "--raw", path, "-f", "-", stdin=json.dumps(dict(request, lastVersion=0)),
                            check=False)
    assert "the LastVersion(2) on build config" in stale.stderr and "build request LastVersion(0)" in stale.stderr
    assert builds() == ["img-1", "img-2"]
