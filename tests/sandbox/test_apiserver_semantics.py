"""The API server's semantics, exercised in-process through the same `Api` object the HTTP layer uses:
strategic merge patch, server-side apply ownership, selectors, protobuf bodies, template processing, deletion."""

from __future__ import annotations

import base64

import pytest

from sandbox.apiserver import errors, protobuf
from sandbox.apiserver.openshift import process_template
from sandbox.apiserver.operations import Api, DeleteOptions, Options
from sandbox.apiserver.resources import registry


def _kind(api_version: str, kind: str):
    return registry().by_kind(api_version, kind)


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "app", "image": "img:1", "env": [{"name": "A", "value": "1"}]},
                                                  {"name": "side", "image": "side:1"}]}}},
}


def _deployment(api: Api, manager: str = "creator") -> dict:
    return api.create(_kind("apps/v1", "Deployment"), "default", DEPLOYMENT, Options(field_manager=manager))


def test_strategic_merge_patch_merges_lists_by_their_keys(api: Api):
    _deployment(api)
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "B", "value": "2"}, {"name": "A", "$patch": "delete"}]},
        {"name": "side", "$patch": "delete"}]}}},
        "metadata": {"finalizers": ["example.com/keep"]}}
    patched = api.patch(_kind("apps/v1", "Deployment"), "default", "web", "strategic", patch, Options())
    containers = patched["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app"]
    assert containers[0]["env"] == [{"name": "B", "value": "2"}]
    assert containers[0]["image"] == "img:1"
    assert patched["metadata"]["generation"] == 2


def test_merge_patch_replaces_lists_and_null_deletes(api: Api):
    _deployment(api)
    patch = {"metadata": {"labels": {"team": "a"}},
             "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x:1"}]}}}}
    patched = api.patch(_kind("apps/v1", "Deployment"), "default", "web", "merge", patch, Options())
    assert [c["name"] for c in patched["spec"]["template"]["spec"]["containers"]] == ["only"]
    unlabelled = api.patch(_kind("apps/v1", "Deployment"), "default", "web", "merge",
                           {"metadata": {"labels": {"team": None}}}, Options())
    assert "labels" not in unlabelled["metadata"] or "team" not in unlabelled["metadata"]["labels"]


def test_a_write_that_changes_nothing_keeps_the_resource_version(api: Api):
    created = _deployment(api)
    again = api.patch(_kind("apps/v1", "Deployment"), "default", "web", "strategic",
                      {"spec": {"replicas": created["spec"]["replicas"]}}, Options(field_manager="creator"))
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_server_side_apply_removes_what_a_manager_stops_applying(api: Api):
    resource = _kind("v1", "ConfigMap")
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "labels": {"a": "1"}},
               "data": {"x": "1", "y": "2"}}
    api.patch(resource, "default", "cfg", "apply", applied, Options(field_manager="tool"))
    fewer = {**applied, "data": {"x": "1"}, "metadata": {"name": "cfg"}}
    result = api.patch(resource, "default", "cfg", "apply", fewer, Options(field_manager="tool"))
    assert result["data"] == {"x": "1"}
    assert "a" not in (result["metadata"].get("labels") or {})


def test_server_side_apply_conflicts_with_another_manager_unless_forced(api: Api):
    resource = _kind("v1", "ConfigMap")
    api.create(resource, "default", {"metadata": {"name": "cfg"}, "data": {"x": "1"}},
               Options(field_manager="editor"))
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"x": "2"}}
    with pytest.raises(errors.ApiError) as raised:
        api.patch(resource, "default", "cfg", "apply", applied, Options(field_manager="tool"))
    assert raised.value.code == 409
    assert raised.value.message == 'Apply failed with 1 conflict: conflict with "editor" using v1: .data.x'
    # The same value is shared ownership, not a conflict.
    same = {**applied, "data": {"x": "1"}}
    api.patch(resource, "default", "cfg", "apply", same, Options(field_manager="tool"))
    forced = api.patch(resource, "default", "cfg", "apply", applied, Options(field_manager="tool", force=True))
    assert forced["data"] == {"x": "2"}
    owners = {entry["manager"]: entry["fieldsV1"] for entry in forced["metadata"]["managedFields"]}
    assert owners["tool"] == {"f:data": {"f:x": {}}}
    assert "editor" not in owners


def test_status_and_scale_subresources_touch_only_their_part(api: Api):
    resource = _kind("apps/v1", "Deployment")
    created = _deployment(api)
    api.update(resource, "default", "web", {**created, "spec": {**created["spec"], "replicas": 9},
                                            "status": {"replicas": 7}}, Options(), subresource="status")
    after = api.get(resource, "default", "web")
    assert after["status"] == {"replicas": 7} and after["spec"]["replicas"] == 1
    scale = api.update_scale(resource, "default", "web", {"spec": {"replicas": 3}}, Options(), "merge")
    assert scale["spec"]["replicas"] == 3 and scale["status"]["selector"] == "app=web"
    with pytest.raises(errors.ApiError) as raised:
        api.update_scale(resource, "default", "web", {"spec": {"replicas": -1}}, Options(), "merge")
    assert raised.value.code == 422


def test_selectors(api: Api):
    resource = _kind("v1", "ConfigMap")
    for name, labels in (("a", {"tier": "front", "app": "x"}), ("b", {"tier": "back"}), ("c", {})):
        api.create(resource, "default", {"metadata": {"name": name, "labels": labels}}, Options())

    def names(labels=None, fields=None):
        return [o["metadata"]["name"] for o in api.list(resource, "default", labels, fields)[0]]

    assert names("tier in (front,back)") == ["a", "b"]
    assert names("tier!=front") == ["b", "c"]
    assert names("!tier") == ["c"]
    assert names("app,tier=front") == ["a"]
    assert names(fields="metadata.name=b") == ["b"]
    with pytest.raises(errors.ApiError) as raised:
        names(fields="data.x=1")
    assert raised.value.code == 400 and "field label not supported: data.x" in raised.value.message


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_protobuf_secret_bodies_decode_like_helm_sends_them():
    meta = _field(1, b"sh.helm.release.v1.demo.v1") + _field(11, _field(1, b"owner") + _field(2, b"helm"))
    secret = _field(1, meta) + _field(2, _field(1, b"release") + _field(2, b"\x00\x01gz")) + \
        _field(3, b"helm.sh/release.v1")
    envelope = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"Secret")) + _field(2, secret)
    decoded = protobuf.decode(envelope)
    assert decoded == {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                       "metadata": {"name": "sh.helm.release.v1.demo.v1", "labels": {"owner": "helm"}},
                       "data": {"release": base64.b64encode(b"\x00\x01gz").decode()}}
    job = protobuf.MAGIC + _field(1, _field(1, b"batch/v1") + _field(2, b"Job")) + _field(2, b"")
    with pytest.raises(protobuf.ProtobufError, match="not supported"):
        protobuf.decode(job)


def test_template_processing_substitutes_and_generates_parameters(api: Api):
    template = {"apiVersion": "template.openshift.io/v1", "kind": "Template", "metadata": {"name": "t"},
                "labels": {"template": "t"},
                "parameters": [{"name": "NAME", "value": "job-1"}, {"name": "LIMIT", "value": "3"},
                               {"name": "TOKEN", "generate": "expression", "from": "[a-z0-9]{12}"}],
                "objects": [{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "${NAME}"},
                             "spec": {"backoffLimit": "${{LIMIT}}",
                                      "template": {"metadata": {"annotations": {"token": "${TOKEN}"}}}}}]}
    code, processed = process_template(api, "default", "", template, Options())
    job = processed["objects"][0]
    assert code == 201
    assert job["metadata"] == {"name": "job-1", "labels": {"template": "t"}}
    assert job["spec"]["backoffLimit"] == 3
    token = job["spec"]["template"]["metadata"]["annotations"]["token"]
    assert len(token) == 12 and token.isalnum() and token.lower() == token
    template["parameters"].append({"name": "NEEDED", "required": True})
    with pytest.raises(errors.ApiError) as raised:
        process_template(api, "default", "", template, Options())
    assert raised.value.code == 422 and "parameter NEEDED is required" in raised.value.message


def test_finalizers_hold_a_deletion_until_they_are_removed(api: Api):
    resource = _kind("v1", "ConfigMap")
    api.create(resource, "default", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, Options())
    pending = api.delete(resource, "default", "held", DeleteOptions())
    assert pending["metadata"]["deletionTimestamp"]
    assert api.get(resource, "default", "held")
    api.patch(resource, "default", "held", "merge", {"metadata": {"finalizers": None}}, Options())
    with pytest.raises(errors.ApiError) as raised:
        api.get(resource, "default", "held")
    assert raised.value.code == 404


def test_namespace_deletion_removes_its_objects_and_creates_need_a_namespace(api: Api):
    namespaces, configmaps = _kind("v1", "Namespace"), _kind("v1", "ConfigMap")
    api.create(namespaces, "", {"metadata": {"name": "scratch"}}, Options())
    api.create(configmaps, "scratch", {"metadata": {"name": "c"}}, Options())
    api.delete(namespaces, "", "scratch", DeleteOptions())
    assert api.list(configmaps, "scratch")[0] == []
    with pytest.raises(errors.ApiError) as raised:
        api.create(configmaps, "scratch", {"metadata": {"name": "c"}}, Options())
    assert raised.value.code == 404 and raised.value.message == 'namespaces "scratch" not found'


def test_dry_run_stores_nothing(api: Api):
    resource = _kind("v1", "ConfigMap")
    answer = api.create(resource, "default", {"metadata": {"name": "dry"}, "data": {"a": "1"}},
                        Options(dry_run=True))
    assert answer["data"] == {"a": "1"} and answer["metadata"]["uid"]
    with pytest.raises(errors.ApiError):
        api.get(resource, "default", "dry")
