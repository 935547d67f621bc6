"""Which program an image reference runs in the sandbox.

- `.../mlflow:v<X.Y.Z>` (or `...mlflow:<X.Y.Z>`, any registry, any `mlflow-*` repository name): the uv venv of
  that MLflow version (mlflow[auth], PostgreSQL drivers, boto3), built once and cached like an image layer;
  `.../mlflow:v<X.Y.Z>@sha256:<64 hex>` (a prebuilt image pinned by digest) runs the same venv. As with the
  container runtime, the digest decides what is pulled (the tag is only informative) and the pod's imageID is
  `<repository>@<digest>`; a malformed digest is refused (distribution/reference: `sha256:` and 64 hex digits);
- an image of the cluster registry (`image-registry.openshift-image-registry.svc:5000/<ns>/<stream>:<tag>`):
  only once a Build has pushed that tag to the ImageStream (as on OpenShift, an unbuilt tag cannot be pulled);
- a few general-purpose base images (busybox, alpine, debian, ubuntu, ubi*, bash): the host's own tools;
- anything else cannot be pulled (the pod waits in ErrImagePull, then ImagePullBackOff, saying why).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .venvs import ensure_mlflow_venv

INTERNAL_REGISTRY = "image-registry.openshift-image-registry.svc:5000"
_MLFLOW = re.compile(r"(?:^|/)mlflow(?:-[a-z0-9.-]+)?:v?(?P<version>\d+\.\d+\.\d+)"
                     r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")
_VERSION_TAG = re.compile(r"^v?(?P<version>\d+\.\d+\.\d+)$")
_INTERNAL = re.compile(rf"^{re.escape(INTERNAL_REGISTRY)}/(?P<ns>[^/]+)/(?P<stream>[^:@/]+)"
                       r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$")
HOST_IMAGES = ("busybox", "alpine", "debian", "ubuntu", "bash", "ubi", "ubi-minimal", "ubi8", "ubi9",
               "ubi8-minimal", "ubi9-minimal")


class ImagePullError(Exception):
    """The image cannot be pulled; the message is the container runtime's answer. The kubelet shows it as the
    waiting reason `ErrImagePull`, then, until the next attempt, `ImagePullBackOff` with `Back-off pulling image
    "<image>": ErrImagePull: <message>` (pkg/kubelet/images/image_manager.go, EnsureImageExists)."""


@dataclass(frozen=True)
class Image:
    reference: str
    bin_dir: Path | None  # first on PATH; None for host images
    image_id: str


def mlflow_version(reference: str) -> str | None:
    found = _MLFLOW.search(reference)
    return found.group("version") if found else None


def _failed(reference: str, why: str) -> ImagePullError:
    return ImagePullError(f'failed to pull image "{reference}": {why}')


def _internal(reference: str, client: Any) -> tuple[str, str]:
    """The MLflow version and image id behind a tag of the cluster registry, or ImagePullError."""
    match = _INTERNAL.match(reference)
    assert match
    namespace, stream_name, tag, digest = match.group("ns", "stream", "tag", "digest")
    try:
        stream = client.get("image.openshift.io/v1", "ImageStream", namespace, stream_name)
    except LookupError:
        # A plain Kubernetes cluster has no internal registry: the runtime cannot even resolve its host.
        raise _failed(reference, f"dial tcp: lookup {INTERNAL_REGISTRY.split(':')[0]}: no such host") from None
    if stream is None:
        raise _failed(reference, f"repository {namespace}/{stream_name} not found (no ImageStream)")
    for entry in (stream.get("status") or {}).get("tags") or []:
        items = entry.get("items") or []
        if (tag and entry.get("tag") == tag and items) or (digest and any(i.get("image") == digest for i in items)):
            found = _VERSION_TAG.match(entry.get("tag", ""))
            if found is None:
                raise _failed(reference, "the sandbox only runs MLflow images tagged v<X.Y.Z>")
            return found.group("version"), items[0].get("dockerImageReference", reference)
    raise _failed(reference, f"manifest unknown: ImageStream {namespace}/{stream_name} has no tag {tag or digest} "
                             "(has its Build completed?)")


def check_pullable(reference: str, client: Any) -> None:
    """ImagePullError unless the sandbox can pull `reference`, decided without pulling it (no venv is built):
    what the kubelet's pulls and the stand-in controllers both go by. An MLflow version tag counts as pullable
    here; only building its venv tells whether that version exists (then `resolve` fails)."""
    if reference.startswith(INTERNAL_REGISTRY + "/"):
        _internal(reference, client)
    elif not mlflow_version(reference) and _host_image(reference) is None:
        raise _failed(reference, f"the sandbox runs MLflow images (.../mlflow:v<X.Y.Z>), images built into an "
                                 f"ImageStream and the base images {', '.join(HOST_IMAGES[:4])}, ...")


def _host_image(reference: str) -> Image | None:
    name = reference.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return Image(reference, None, f"{reference}@sandbox-host") if name in HOST_IMAGES else None


def resolve(reference: str, client: Any) -> Image:
    """The program behind `reference`, or ImagePullError. May take a while the first time (a venv is built)."""
    check_pullable(reference, client)
    if reference.startswith(INTERNAL_REGISTRY + "/"):
        version, image_id = _internal(reference, client)
    else:
        host = _host_image(reference)
        if host is not None:
            return host
        found = _MLFLOW.search(reference)
        version = found.group("version") if found else ""
        digest = found.group("digest") if found else None
        # CRI reports a digest-pinned image as <repository>@<digest>; a tag-only one gets the sandbox's own id.
        image_id = f"{reference.split('@', 1)[0].rsplit(':', 1)[0]}@{digest}" if digest else f"{reference}@sandbox-venv"
    try:
        venv = ensure_mlflow_venv(version)
    except RuntimeError as exc:
        raise _failed(reference, str(exc)) from exc
    return Image(reference, venv / "bin", image_id)
