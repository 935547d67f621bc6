"""Which program an image reference runs in the sandbox.

- `.../mlflow:v<X.Y.Z>` (or `...mlflow:<X.Y.Z>`, any registry, any `mlflow-*` repository name): the uv venv of
  that MLflow version (mlflow[auth], PostgreSQL drivers, boto3), built once and cached like an image layer;
- an image of the cluster registry (`image-registry.openshift-image-registry.svc:5000/<ns>/<stream>:<tag>`):
  only once a Build has pushed that tag to the ImageStream (as on OpenShift, an unbuilt tag cannot be pulled);
- a few general-purpose base images (busybox, alpine, debian, ubuntu, ubi*, bash): the host's own tools;
- anything else cannot be pulled (the pod waits in ImagePullBackOff, saying why).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .venvs import ensure_mlflow_venv

INTERNAL_REGISTRY = "image-registry.openshift-image-registry.svc:5000"
_MLFLOW = re.compile(r"(?:^|/)mlflow(?:-[a-z0-9.-]+)?:v?(?P<version>\d+\.\d+\.\d+)$")
_VERSION_TAG = re.compile(r"^v?(?P<version>\d+\.\d+\.\d+)$")
_INTERNAL = re.compile(rf"^{re.escape(INTERNAL_REGISTRY)}/(?P<ns>[^/]+)/(?P<stream>[^:@/]+)"
                       r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$")
HOST_IMAGES = ("busybox", "alpine", "debian", "ubuntu", "bash", "ubi", "ubi-minimal", "ubi8", "ubi9",
               "ubi8-minimal", "ubi9-minimal")


class ImagePullError(Exception):
    """The image cannot be pulled; `reason` is the container's waiting reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Image:
    reference: str
    bin_dir: Path | None  # first on PATH; None for host images
    image_id: str


def mlflow_version(reference: str) -> str | None:
    found = _MLFLOW.search(reference)
    return found.group("version") if found else None


def _internal(reference: str, client: Any) -> Image:
    match = _INTERNAL.match(reference)
    assert match
    namespace, stream_name, tag, digest = match.group("ns", "stream", "tag", "digest")
    stream = client.get("image.openshift.io/v1", "ImageStream", namespace, stream_name)
    pull = f'Back-off pulling image "{reference}": '
    if stream is None:
        raise ImagePullError("ImagePullBackOff", pull + f"repository {namespace}/{stream_name} not found "
                                                        "(no ImageStream)")
    version = None
    for entry in (stream.get("status") or {}).get("tags") or []:
        items = entry.get("items") or []
        if (tag and entry.get("tag") == tag and items) or (digest and any(i.get("image") == digest for i in items)):
            found = _VERSION_TAG.match(entry.get("tag", ""))
            version = found.group("version") if found else None
            image_id = items[0].get("dockerImageReference", reference)
            break
    else:
        raise ImagePullError("ImagePullBackOff", pull + f"manifest unknown: ImageStream {namespace}/{stream_name} "
                                                        f"has no tag {tag or digest} (has its Build completed?)")
    if version is None:
        raise ImagePullError("ImagePullBackOff", pull + "the sandbox only runs MLflow images tagged v<X.Y.Z>")
    return Image(reference, ensure_mlflow_venv(version) / "bin", image_id)


def resolve(reference: str, client: Any) -> Image:
    """The program behind `reference`, or ImagePullError. May take a while the first time (a venv is built)."""
    if reference.startswith(INTERNAL_REGISTRY + "/"):
        return _internal(reference, client)
    version = mlflow_version(reference)
    if version:
        try:
            venv = ensure_mlflow_venv(version)
        except RuntimeError as exc:
            raise ImagePullError("ErrImagePull", f'failed to pull image "{reference}": {exc}') from exc
        return Image(reference, venv / "bin", f"{reference}@sandbox-venv")
    name = reference.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    if name in HOST_IMAGES:
        return Image(reference, None, f"{reference}@sandbox-host")
    raise ImagePullError("ImagePullBackOff", f'Back-off pulling image "{reference}": the sandbox runs MLflow '
                                             f"images (.../mlflow:v<X.Y.Z>), images built into an ImageStream and "
                                             f"the base images {', '.join(HOST_IMAGES[:4])}, ...")
