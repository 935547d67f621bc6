"""PostgreSQL images and majors as CloudNativePG 1.30 sees them.

The processes run the one PostgreSQL this machine has; what CNPG decides from an image is copied here:
- the operator's default image is `POSTGRES_IMAGE_NAME` of its configuration (the `cnpg-controller-manager-config`
  ConfigMap in the operator's namespace, docs/src/operator_conf.md), else `versions.DefaultImageName`
  (pkg/versions/versions.go: PostgreSQL 18.6 since 1.28 moved the default from 17);
- a Cluster's major is `imageCatalogRef.major`, else the major of `imageName`'s tag (api/v1/cluster_funcs.go,
  GetPostgresqlMajorVersion; `version.FromTag`);
- PostgreSQL refuses a data directory of another major ("database files are incompatible with server"), so a
  recovery from a backup of another major never starts (docs/src/bootstrap.md: recovery needs the same major).
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_IMAGE = "ghcr.io/cloudnative-pg/postgresql:18.6-system-trixie"
OPERATOR_NAMESPACE = "cnpg-system"
OPERATOR_CONFIG = "cnpg-controller-manager-config"
_TAG_VERSION = re.compile(r"^(\d+)(?:\.\d+)*(?:[-_].*)?$")


def operator_image(client: Any) -> str:
    """The image the operator gives a Cluster that names none (read when the Cluster is created)."""
    config = client.get("v1", "ConfigMap", OPERATOR_NAMESPACE, OPERATOR_CONFIG) or {}
    return (config.get("data") or {}).get("POSTGRES_IMAGE_NAME") or DEFAULT_IMAGE


def major_of_image(image: str) -> int:
    """The major in the image's tag (`...postgresql:17.2-standard-bookworm` -> 17); ValueError without one."""
    name = image.rsplit("@", 1)[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    found = _TAG_VERSION.match(tag)
    if not found:
        raise ValueError(f"cannot parse image name {image!r}: its tag has no PostgreSQL version")
    return int(found.group(1))


def version_num(image: str, major: int) -> int:
    """The server_version_num a server of this image reports (`18.6-...` -> 180006; a tag with the major only: the
    major's .0), which barman writes into backup.info as `version`."""
    tag = image.rsplit("@", 1)[0].rsplit("/", 1)[-1].rpartition(":")[2]
    found = re.match(r"^(\d+)\.(\d+)", tag)
    return major * 10000 + (int(found.group(2)) if found and int(found.group(1)) == major else 0)


def cluster_image(cluster: dict[str, Any], default_image: str) -> tuple[str, int]:
    """(image, major) of a Cluster's spec; `default_image` for a spec that names neither image nor catalog."""
    spec = cluster.get("spec") or {}
    reference = spec.get("imageCatalogRef")
    if reference:
        return f"{reference.get('kind', 'ImageCatalog')}/{reference.get('name', '')}:{reference['major']}", \
            int(reference["major"])
    image = spec.get("imageName") or default_image
    return image, major_of_image(image)


def requested_image(client: Any, cluster: dict[str, Any]) -> tuple[str, int]:
    """(image, major) a Cluster asks for. A spec naming none keeps the operator default it was given when it was
    created (CNPG's defaulting webhook writes it into the spec then; the sandbox keeps it in status.image), so a
    later change of the operator's default does not move an existing Cluster."""
    return cluster_image(cluster, (cluster.get("status") or {}).get("image") or operator_image(client))


def incompatible_data(backup_major: int, image: str, major: int) -> str:
    """PostgreSQL's own refusal (src/backend/utils/init/miscinit.c, ValidatePgVersion) of a restored data
    directory of another major."""
    return (f'FATAL:  database files are incompatible with server. DETAIL:  The data directory was initialized by '
            f'PostgreSQL version {backup_major}, which is not compatible with this version {major} ({image}).')
