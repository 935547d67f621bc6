"""`--flavour kubernetes`: the sandbox stands for a vanilla cluster, which serves no OpenShift API group.

kube-apiserver lists in discovery only the groups something registers, and answers any path of another group with
404 NotFound "the server could not find the requested resource" (its NotFoundHandler) - after authorization, so
a caller without a grant still gets 403. OpenShift's groups (route, build, image, template, project) come from
openshift-apiserver, which a kind or kubeadm cluster does not run: neither their kinds nor their verb-only
endpoints (processedtemplates, buildconfigs/instantiate, projects, projectrequests) exist there.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.apiserver import discovery
from sandbox.apiserver.resources import registry
from tests.sandbox.flavoured_cluster import OPENSHIFT_GROUPS, FlavouredCluster


@pytest.fixture(name="plain", scope="module")
def fixture_plain() -> Iterator[FlavouredCluster]:
    root = Path(tempfile.mkdtemp(prefix="sandbox-k8s-flavour-"))
    cluster = FlavouredCluster(root, controllers="stand-in").start()
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_discovery_lists_no_openshift_group():
    plain, openshift = registry().copy("kubernetes"), registry().copy("openshift")
    assert not {g["name"] for g in discovery.group_list(plain)["groups"]} & set(OPENSHIFT_GROUPS)
    assert set(OPENSHIFT_GROUPS) <= {g["name"] for g in discovery.group_list(openshift)["groups"]}
    for group in OPENSHIFT_GROUPS:
        assert discovery.group(plain, group) is None and discovery.resource_list(plain, group, "v1") is None
    assert discovery.resource_list(plain, "networking.k8s.io", "v1") is not None


def test_an_unknown_flavour_is_refused():
    with pytest.raises(ValueError, match="unknown cluster flavour"):
        registry().copy("okd")


def test_openshift_paths_answer_not_found_and_kubectl_knows_no_openshift_kind(plain: FlavouredCluster):
    plain.kubectl("create", "namespace", "flavour")
    for path in ("/apis/route.openshift.io", "/apis/route.openshift.io/v1/namespaces/flavour/routes",
                 "/apis/build.openshift.io/v1/namespaces/flavour/buildconfigs/x/instantiate",
                 "/apis/template.openshift.io/v1/namespaces/flavour/processedtemplates",
                 "/apis/project.openshift.io/v1/projects"):
        result = plain.kubectl("get", "--raw", path, check=False)
        assert result.returncode != 0 and "NotFound" in result.stderr, (path, result.stderr)
    # Without client-side validation, kubectl's own error: discovery maps no resource to the kind.
    created = plain.kubectl("create", "--validate=false", "-f", "-", check=False, stdin=json.dumps({
        "apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "r", "namespace": "flavour"},
        "spec": {"to": {"kind": "Service", "name": "s"}}}))
    assert created.returncode != 0 and 'no matches for kind "Route"' in created.stderr
    resources = plain.kubectl("api-resources", "-o", "name").stdout.split()
    assert "ingresses.networking.k8s.io" in resources
    assert not [name for name in resources if name.endswith(".openshift.io")]


def test_the_chart_renders_no_openshift_object_there(plain: FlavouredCluster):
    """`openshift.enabled: auto` asks the cluster's discovery (Helm's .Capabilities.APIVersions)."""
    result = plain.helm("install", "mlflow", "charts/mlflow", "--namespace", "flavour", "--dry-run=server",
                        "--set", "ingress.enabled=true", "--set", "ingress.host=mlflow.example.invalid")
    kinds = {doc.split("kind: ", 1)[1].split("\n", 1)[0] for doc in result.stdout.split("\n---") if "kind: " in doc}
    assert "Ingress" in kinds and "Deployment" in kinds
    assert not kinds & {"Route", "BuildConfig", "ImageStream", "Template"}
