"""OpenShift builds of the MLflow image.

- BuildConfig: the ConfigChange trigger starts build #1 while `status.lastVersion` is 0, i.e. once, after the
  BuildConfig is created; an edit starts no build, and neither does a rerun after a failed build (openshift-
  controller-manager's buildconfig_controller.go handleBuildConfig: "if bc.Status.LastVersion > 0 { return nil }",
  with a BuildRequest naming LastVersion 0 so that the generator refuses a second one). More builds come from
  `buildconfigs/<name>/instantiate` (`oc start-build`).
- Build: New -> Running -> Complete|Failed. "Building" `.../mlflow:v<ver>` is creating (or reusing from the
  cache) the uv venv of that version: the chart's pinned set of it (the pins of the chart's Dockerfile), else
  `mlflow[auth]==<ver>`, the PostgreSQL drivers and boto3; the version comes from the Dockerfile's
  `mlflow[auth]==<ver>` or `mlflow==<ver>` (else its FROM tag, else the output tag). The build's log
  (`oc logs build/<name>`, `builds/<name>/log`) tells the steps and pip's (uv's) output; a failure is OpenShift's:
  reason DockerBuildFailed, message "Docker build strategy has failed.", the end of the log in `logSnippet`.
- Only a successful build pushes: the output ImageStreamTag moves (ImageStream `status.tags`), and Deployments
  whose `image.openshift.io/triggers` annotation names that tag get its image (OpenShift's image-change trigger).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shlex
import subprocess
from typing import Any

from ..runtime.images import INTERNAL_REGISTRY, mlflow_version
from .base import Controller, condition, now
from .client import ApiError
from .util import write_status
from .workers import Workers

LOG = logging.getLogger(__name__)

_PIN = re.compile(r"mlflow(?:\[[^\]]*\])?==(?P<version>\d+\.\d+\.\d+)")
_FROM = re.compile(r"^\s*FROM\s+(?P<image>\S+)", re.MULTILINE | re.IGNORECASE)
_TAG_VERSION = re.compile(r"v?(\d+\.\d+\.\d+)$")
FINISHED = ("Complete", "Failed", "Error", "Cancelled")
# openshift/api build/v1 (StatusReasonDockerBuildFailed, StatusMessageDockerBuildFailed).
FAILED_REASON, FAILED_MESSAGE = "DockerBuildFailed", "Docker build strategy has failed."


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


def _instructions(build: dict[str, Any]) -> list[str]:
    """The Dockerfile's instructions, as Docker reads them: comments dropped, `\\`-continued lines joined."""
    dockerfile = ((build.get("spec") or {}).get("source") or {}).get("dockerfile") or ""
    instructions, current = [], ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current = f"{current} {line}" if current else line
        if current.endswith("\\"):
            current = current[:-1].rstrip()
        else:
            instructions.append(current)
            current = ""
    return instructions + ([current] if current else [])


def extra_packages(build: dict[str, Any], version: str) -> list[str]:
    """The packages the Dockerfile's `pip install` asks for beyond those of the MLflow image of `version` (the chart's
    `build.packages` an inventory added): each must install, or the build fails at that step as pip would. The image's
    own are its requirements and, for a version the chart pins, the pins of its set (the venv holds exactly those)."""
    from ..runtime.venvs import pinned_requirements, requirements_for  # pylint: disable=import-outside-toplevel

    wanted = []
    for instruction in _instructions(build):
        words = shlex.split(instruction) if "pip install" in instruction else []
        if words[:1] == ["RUN"]:
            wanted += [word for word in words[words.index("install") + 1:] if not word.startswith("-")]
    known = set(requirements_for(version)) | set(pinned_requirements(version))
    return [package for package in wanted if package not in known and not _PIN.match(package)]


def _steps(build: dict[str, Any]) -> str:
    """The start of a docker build's log: its Dockerfile's instructions as numbered steps."""
    steps = _instructions(build)
    return "".join(f"STEP {i}/{len(steps)}: {step}\n" for i, step in enumerate(steps, 1))


class BuildConfigController(Controller):
    name = "buildconfig-controller"
    kind = ("build.openshift.io/v1", "BuildConfig")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        triggers = (obj.get("spec") or {}).get("triggers") or []
        if any(t.get("type") == "ConfigChange" for t in triggers) and \
                not (obj.get("status") or {}).get("lastVersion"):
            try:
                self.client.post("build.openshift.io/v1", "BuildConfig", namespace, name, "instantiate",
                                 {"kind": "BuildRequest", "apiVersion": "build.openshift.io/v1",
                                  "metadata": {"name": name, "namespace": namespace},
                                  "triggeredBy": [{"message": "Build configuration change"}], "lastVersion": 0})
            except ApiError as error:
                if error.code not in (400, 404):
                    raise
                # Fatal for OpenShift's controller too (a build already started, or the BuildConfig is gone).
                LOG.info("buildconfig %s/%s: %s", namespace, name, error)
        return None


def waits_for_output_stream(client, build: dict) -> bool:
    """As OpenShift: a build whose output ImageStream does not exist waits (phase New, InvalidOutputReference)
    until it does; True while it waits."""
    target = ((build.get("spec") or {}).get("output") or {}).get("to") or {}
    if target.get("kind") != "ImageStreamTag":
        return False
    stream = target.get("name", "").split(":", 1)[0]
    namespace = target.get("namespace") or build["metadata"]["namespace"]
    if client.get("image.openshift.io/v1", "ImageStream", namespace, stream) is not None:
        return False
    write_status(client, build, dict(build.get("status") or {}, phase="New", reason="InvalidOutputReference",
                                     message="Output image could not be resolved."))
    return True


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
        if waits_for_output_stream(self.client, obj):
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
        log = self._log_file(namespace, name)
        try:
            from ..runtime.venvs import ensure_mlflow_venv  # pylint: disable=import-outside-toplevel
            self._write_log(log, _steps(obj))
            version = build_version(obj)
            if version is None:
                raise RuntimeError("the sandbox builds MLflow images only: no mlflow[auth]==<version> in the "
                                   "Dockerfile, no mlflow:v<version> base image or output tag")
            venv = ensure_mlflow_venv(version)
            extras = extra_packages(obj, version)
            if extras:
                # The image's pip step, resolved against the image's packages (nothing is installed into the shared
                # venv): a package that cannot install fails the build with the installer's own words.
                from ..runtime.venvs import uv_executable  # pylint: disable=import-outside-toplevel
                command = [uv_executable(), "pip", "install", "--offline", "--dry-run", "--quiet",
                           "--python", str(venv / "bin" / "python"), *extras]
                checked = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
                if checked.returncode != 0:
                    raise RuntimeError(f"pip install {' '.join(extras)} failed:\n{checked.stderr.strip()[-3000:]}")
            digest = "sha256:" + hashlib.sha256(f"{venv}:{version}".encode()).hexdigest()
            target = ((obj.get("spec") or {}).get("output") or {}).get("to") or {}
            self._write_log(log, f"Successfully pushed {target.get('name', '')}@{digest}\nPush successful\n")
            self._finish(namespace, name, started, digest=digest)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # any failure is the Build's
            LOG.info("build %s/%s failed: %s", namespace, name, exc)
            self._write_log(log, f"{str(exc).rstrip()}\nerror: build error: {str(exc).strip().splitlines()[0]}\n")
            self._finish(namespace, name, started, error=log.read_text(encoding="utf-8") if log else str(exc))

    def _log_file(self, namespace, name):
        if self.runtime is None:
            return None
        path = self.runtime.build_log_file(namespace, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
        return path

    @staticmethod
    def _write_log(path, text):
        if path is not None:
            with open(path, "a", encoding="utf-8") as stream:
                stream.write(text)

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
            # As OpenShift: the reason and a fixed message; the last lines of the log in logSnippet.
            snippet = "\n".join(error.strip().splitlines()[-15:])
            status.update(phase="Failed", reason=FAILED_REASON, message=FAILED_MESSAGE, logSnippet=snippet,
                          conditions=[condition("Failed", True, FAILED_REASON, FAILED_MESSAGE)])
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
