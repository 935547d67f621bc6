# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""MLflow version strings as users type them (3.5.0 or v3.5.0) and as images are tagged (v3.5.0)."""

from __future__ import annotations

import re

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


class VersionError(CollectionError, ValueError):
    """Not an MLflow release version."""


def normalise_version(text):
    """`3.5.0` or `v3.5.0` -> `3.5.0`; anything else raises VersionError with an example of the right form."""
    match = _VERSION.match(str(text).strip())
    if not match:
        raise VersionError(f"{text!r} is not an MLflow release version: use X.Y.Z, for example 3.5.0 (or v3.5.0)")
    return ".".join(str(int(part)) for part in match.groups())


def version_tuple(text):
    return tuple(int(part) for part in normalise_version(text).split("."))


def image_tag(text):
    """The official images' tag of a version: `v3.5.0`."""
    return "v" + normalise_version(text)


def upgrade_notes(current, target):
    """Warnings a person should read before upgrading from `current` to `target` (empty when none)."""
    notes = []
    old, new = version_tuple(current), version_tuple(target)
    if new < old:
        notes.append(f"{target} is older than the running {current}: MLflow schemas cannot be downgraded; "
                     "only a point-in-time recovery goes back.")
    if new[0] != old[0]:
        notes.append(f"Major version change {old[0]}.x -> {new[0]}.x: the server works with clients up to one major "
                     "version older; clients newer than the server may not work. Upgrade clients after the server.")
    if old < (3, 16, 0) <= new:
        notes.append("From 3.16 the old default admin password 'password1234' is refused: make sure the admin "
                     "password is a new one of at least 12 characters (MLFLOW_AUTH_ADMIN_PASSWORD), or the admin is "
                     "locked out after the upgrade.")
    return notes
