"""The Helm SDK calls the helm double needs, with the full option sets of helm-python-sdk's C library.

helm-python-sdk's Python wrappers expose a subset of the options its C library accepts (no server-side apply
switch, no `wait_for_jobs`, no `skip_crds`, no API versions for rendering...). These functions pass the whole
option set to the same native entry points; option names are those of helm-python-sdk 0.2.2 (pinned in
tests/requirements.txt). The native layer ignores unknown keys, so each option used here is covered by a test.
"""

from __future__ import annotations

import json
import os
from typing import Any

import helm_python
from helm_python import _native  # pylint: disable=protected-access  # the full option set lives there

EMPTY_KUBECONFIG = ("apiVersion: v1\nkind: Config\nclusters: [{name: none, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                    "contexts: [{name: none, context: {cluster: none}}]\ncurrent-context: none\n")


def _options(**pairs: Any) -> str | None:
    present = {key: value for key, value in pairs.items() if value not in (None, False)}
    return json.dumps(present) if present else None


def _chart(chart: str) -> tuple[object, str | None]:
    return _native.HANDLE(0), os.fspath(chart)


def _release_action(action: str, config: helm_python.Config, chart: str, name: str, values: dict[str, Any],
                    options: dict[str, Any]) -> dict[str, Any]:
    handle, ref = _chart(chart)
    payload = _native.call_string(action, config._raw(), _native.HANDLE(0), handle, ref, name,  # pylint: disable=protected-access
                                  json.dumps(values), _options(**options))
    return json.loads(payload)


def install(config: helm_python.Config, chart: str, name: str, values: dict[str, Any],
            options: dict[str, Any]) -> dict[str, Any]:
    return _release_action("helm_install", config, chart, name, values, options)


def upgrade(config: helm_python.Config, chart: str, name: str, values: dict[str, Any],
            options: dict[str, Any]) -> dict[str, Any]:
    return _release_action("helm_upgrade", config, chart, name, values, options)


def rollback(config: helm_python.Config, name: str, options: dict[str, Any]) -> None:
    _native.call_status("helm_rollback", config._raw(), name, _options(**options))  # pylint: disable=protected-access


def uninstall(config: helm_python.Config, name: str, options: dict[str, Any]) -> dict[str, Any]:
    payload = _native.call_string("helm_uninstall", config._raw(), name, _options(**options))  # pylint: disable=protected-access
    return json.loads(payload)
