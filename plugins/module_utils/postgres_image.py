# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL majors as CloudNativePG reads them from an operand image, and as barman records them in backup.info.

CloudNativePG takes a Cluster's major from its image's tag (`ghcr.io/cloudnative-pg/postgresql:17.2-standard-bookworm`
-> 17; api/v1/cluster_funcs.go GetPostgresqlMajorVersion, pkg/postgres/version.go GetPostgresVersionFromTag), and
restores a backup only into the same major (docs/src/bootstrap.md). barman writes the server's `server_version_num`
as `version` in backup.info (170004 -> 17).
"""

from __future__ import annotations

import re

_TAG_VERSION = re.compile(r"^(\d+)(?:\.\d+)*(?:[-_].*)?$")


def image_major(image: str | None) -> int | None:
    """The major in an image reference's tag, or None when the reference names no version (a digest only, `latest`,
    an empty reference)."""
    if not image:
        return None
    name = image.rsplit("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    found = _TAG_VERSION.match(last.rsplit(":", 1)[1])
    return int(found.group(1)) if found else None


def version_num_major(version_num: int | None) -> int | None:
    """The major of a `server_version_num` (170004 -> 17); None for none, or for a 9.x server (no CNPG runs one)."""
    if version_num is None or version_num < 100000:
        return None
    return version_num // 10000
