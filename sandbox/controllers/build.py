"""OpenShift builds of the MLflow image.

- BuildConfig: the ConfigChange trigger starts build #1 when the BuildConfig is created (as OpenShift does; an
  edit does not start another).
- Build: New -> Pending -> Running -> Complete|Failed. "Building" `.../mlflow:v<ver>` is creating (or reusing
  from the cache) the uv venv with `mlflow[auth]==<ver>`, the PostgreSQL drivers and boto3 — the packages of
  the chart's Dockerfile; the version comes from the Dockerfile's `mlflow[auth]==<ver>` (else its FROM tag, else
  the output tag). An unknown version fails the Build with pip's error in `status.message`/`logSnippet`.
- On success the output ImageStreamTag is pushed (ImageStream `status.tags`), and Deployments whose
  `image.openshift.io/triggers` annotation names that tag get its image (OpenShift's image-change trigger).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

from ..runtime.images import INTERNAL_REGISTRY, mlflow_version
from .base import Controller, condition, now
from .util import write_status
from .workers import Workers

LOG = logging.getLogger(__name__)

_PIN = re.compile(r"mlflow(?:\[[^\]]*\])?==(?P<version>\d+\.\d+\.\d+)")
_FROM = re.compile(r"^\s*FROM\s+(?P<image>\S+)", re.MULTILINE | re.IGNORECASE)
_TAG_VERSION = re.compile(r"v?(\d+\.\d+\.\d+)$")
FINISHED = ("Complete", "Failed", "Error", "Cancelled")


def build_version(build: dict[str, Any]) -> str | None:
    spec = build.get("spec") or {}
    dockerfile = (spec.get("source") or {}).get("dockerfile") or ""
    found = _PIN.search(dockerfile)
    if found:
        return found.group("version")
    base = _FROM.search(dockerfile)
    if base and mlflow_version(base.group("image")):
        return mlflow_version(base.group("image"))
    target = ((spec.get("output") or {}).get("to") or {}).get("name", "")
    found = _TAG_VERSION.search(target)
    return found.group(1) if found else None


class BuildConfigController(Controller):
    name = "buildconfig-controller"
    kind = ("build.openshift.io/v1", "BuildConfig")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        triggers = (obj.get("spec") or {}).get("triggers") or []
        if any(t.get("type") == "ConfigChange" for t in triggers) and \
                not (obj.get("status") or {}).get("lastVersion"):
            self.client.post("build.openshift.io/v1", "BuildConfig", namespace, name, "instantiate",
                             {"kind": "BuildRequest", "apiVersion": "build.openshift.io/v1",
                              "metadata": {"name": name, "annotations": {}}})
        return None


class BuildController(Controller):
    name = "build-controller"
    kind = ("build.openshift.io/v1", "Build")

    def __init__(self, client, runtime=None):
        super().__init__(client, runtime)
        self._workers = Workers("build")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        old = obj.get("status") or {}
        if old.get("phase") in FINISHED:
            return None
        target = ((obj.get("spec") or {}).get("output") or {}).get("to") or {}
        if target.get("kind") == "ImageStreamTag":
            stream = target.get("name", "").split(":", 1)[0]
            if self.client.get("image.openshift.io/v1", "ImageStream", target.get("namespace") or namespace,
                               stream) is None:
                # As OpenShift: the build waits (phase New) until its output ImageStream exists.
                write_status(self.client, obj, dict(old, phase="New", reason="InvalidOutputReference",
                                                    message="Output image could not be resolved."))
                return 2.0
        if not self._workers.claim(namespace, name):
            return None
        old = {k: v for k, v in old.items() if k not in ("reason", "message")}
        started = old.get("startTimestamp") or now()
        obj = write_status(self.client, obj, dict(old, phase="Running", startTimestamp=started,
                                                   conditions=[condition("Running", True, "", "")])) or obj
        self._workers.run(namespace, name, self._build, obj, namespace, name, started)
        return None

    def _build(self, obj, namespace, name, started):
        try:
            from ..runtime.venvs import ensure_mlflow_venv  # pylint: disable=import-outside-toplevel
            version = build_version(obj)
            if version is None:
                raise RuntimeError("the sandbox builds MLflow images only: no mlflow[auth]==<version> in the "
                                   "Dockerfile, no mlflow:v<version> base image or output tag")
            venv = ensure_mlflow_venv(version)
            digest = "sha256:" + hashlib.sha256(f"{venv}:{version}".encode()).hexdigest()
            self._finish(namespace, name, started, digest=digest)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # any failure is the Build's
            LOG.info("build %s/%s failed: %s", namespace, name, exc)
            self._finish(namespace, name, started, error=str(exc))

    def _finish(self, namespace, name, started, digest=None, error=None):
        current = self.client.get("build.openshift.io/v1", "Build", namespace, name)
        if current is None:
            return
        stamp = now()
        status = dict(current.get("status") or {}, startTimestamp=started, completionTimestamp=stamp)
        if error is None:
            target = ((current.get("spec") or {}).get("output") or {}).get("to") or {}
            status.update(phase="Complete", output={"to": {"imageDigest": digest}},
                          conditions=[condition("Complete", True, "", "")])
            if target.get("kind") == "ImageStreamTag":
                status["outputDockerImageReference"] = self._push(namespace, target, digest)
        else:
            snippet = "\n".join(error.strip().splitlines()[-15:])
            status.update(phase="Failed", reason="DockerBuildFailed", message=f"Docker build strategy has failed: "
                          f"{snippet}", logSnippet=snippet, conditions=[condition("Failed", True,
                                                                                  "DockerBuildFailed", snippet)])
        write_status(self.client, current, status)

    def _push(self, namespace, target, digest):
        stream_name, tag = (target.get("name", "").split(":", 1) + [""])[:2]
        tag = tag or "latest"
        stream_namespace = target.get("namespace") or namespace
        repository = f"{INTERNAL_REGISTRY}/{stream_namespace}/{stream_name}"
        stream = self.client.get("image.openshift.io/v1", "ImageStream", stream_namespace, stream_name)
        if stream is not None:
            status = dict(stream.get("status") or {}, dockerImageRepository=repository)
            tags = [t for t in status.get("tags") or [] if t.get("tag") != tag]
            tags.append({"tag": tag, "items": [{"created": now(), "dockerImageReference": f"{repository}@{digest}",
                                                "image": digest, "generation": stream["metadata"].get("generation", 1)}]})
            status["tags"] = tags
            write_status(self.client, stream, status)
        self._trigger_deployments(stream_namespace, f"{stream_name}:{tag}", f"{repository}@{digest}")
        return f"{repository}:{tag}"

    def _trigger_deployments(self, namespace, stream_tag, reference):
        """image.openshift.io/triggers on Deployments: set the container image to the newly pushed one."""
        for deployment in self.client.list("apps/v1", "Deployment", namespace):
            raw = (deployment["metadata"].get("annotations") or {}).get("image.openshift.io/triggers")
            if not raw:
                continue
            try:
                triggers = json.loads(raw)
            except ValueError:
                continue
            changed = False
            for trigger in triggers:
                source = trigger.get("from") or {}
                if source.get("kind") != "ImageStreamTag" or source.get("name") != stream_tag or \
                        str(trigger.get("paused", "false")).lower() == "true":
                    continue
                found = re.search(r'name==\\?"([^"\\]+)\\?"', trigger.get("fieldPath", ""))
                for container in deployment["spec"]["template"]["spec"].get("containers") or []:
                    if (found is None or container["name"] == found.group(1)) and container.get("image") != reference:
                        container["image"] = reference
                        changed = True
            if changed:
                self.client.update(deployment)
