# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way this collection rewrites a file: an optional backup copy first, then a new file renamed over it.

A reader sees the old content or the new one, never a part; a failure leaves the old file and no temporary copy
(which may hold secrets). The temporary file is created 0600, so the new content is never readable by others.
"""

from __future__ import annotations

import os
import tempfile

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError


class FileWriteError(CollectionError):
    """The file could not be backed up or written; it is unchanged."""


def replace_file(ansible_module, path: str, data: bytes, backup: bool = False) -> str | None:
    """Replace `path` with `data`; returns the backup copy's path when `backup` (made by AnsibleModule.backup_local)."""
    path = os.path.abspath(path)
    backup_file = None
    if backup:
        try:
            backup_file = ansible_module.backup_local(path)
        except Exception as exc:  # backup_local raises a bare Exception that names both files
            raise FileWriteError("%s; nothing was changed" % to_native(exc)) from None
    folder, name = os.path.split(path)
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=folder)
    except OSError as exc:
        raise FileWriteError("cannot write in %s: %s; nothing was changed" % (folder, exc.strerror)) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        ansible_module.atomic_move(temporary, path, unsafe_writes=ansible_module.params.get("unsafe_writes", False))
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return backup_file
