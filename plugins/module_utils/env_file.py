# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Strict parsing of an env file (aws.env), as `oc create secret generic --from-env-file` reads it."""

from __future__ import annotations

import re

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


class EnvFileError(CollectionError, ValueError):
    """A line of the env file is not KEY=VALUE; the message names the line, never its value."""


def parse_env_file(text, required=()):
    """Parse KEY=VALUE lines (blank lines and `#` comments skipped, no quoting, like `--from-env-file`).

    Raises EnvFileError naming the line number (never the value) for a malformed line, a duplicate key or a
    missing required key.
    """
    values = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise EnvFileError(f"line {number} is not KEY=VALUE (no '=')")
        if not _KEY.match(key):
            raise EnvFileError(f"line {number}: {key!r} is not a valid environment variable name")
        if key in values:
            raise EnvFileError(f"line {number}: {key} is set twice")
        values[key] = value
    missing = [key for key in required if not values.get(key)]
    if missing:
        raise EnvFileError(f"missing or empty: {', '.join(missing)}")
    return values
