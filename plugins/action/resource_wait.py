# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""resource_wait in slices of `progress_interval` seconds, with a progress line between two slices.

A module reports only when it ends; a person watching a 10-minute restore or rollout needs to see what is awaited
and for how long. So the wait is cut into module calls of at most `progress_interval` seconds, each waiting
in-process, and the state each one last saw is printed before the next one starts.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.validation import check_type_int
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

# The module's defaults (plugins/modules/resource_wait.py; tests/unit/test_resource_wait.py keeps them equal).
DEFAULT_TIMEOUT = 900
DEFAULT_PROGRESS_INTERVAL = 30


def _seconds(args: dict, key: str, default: int) -> int:
    try:
        value = check_type_int(args.get(key, default))
    except TypeError as exc:
        raise AnsibleActionFail("%s must be a whole number of seconds: %s" % (key, exc)) from None
    if value < 1:
        raise AnsibleActionFail("%s must be at least 1 second, not %s" % (key, value))
    return value


class ActionModule(ActionBase):
    """Call the resource_wait module until it is done or the whole wait_timeout has passed."""

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        total = _seconds(args, "wait_timeout", DEFAULT_TIMEOUT)
        interval = _seconds(args, "progress_interval", DEFAULT_PROGRESS_INTERVAL)
        started = time.monotonic()
        while True:
            elapsed = int(time.monotonic() - started)
            outcome = self._execute_module(module_name="mlops.mlflow.resource_wait", task_vars=task_vars,
                                           module_args=dict(args, wait_timeout=max(1, min(interval, total - elapsed))))
            elapsed = int(time.monotonic() - started)
            if not outcome.get("timed_out") or elapsed >= total:
                break
            # The installation's name too: installations of one run wait side by side (docs/fleet.md).
            display.display("resource_wait: [%s] %s - %s s of at most %s s"
                            % ((task_vars or {}).get("inventory_hostname", "?"), outcome.get("summary"), elapsed, total))
        outcome["elapsed"] = elapsed
        if outcome.get("timed_out"):
            outcome["msg"] = "%s Waited %s s (wait_timeout %s)." % (outcome.get("msg"), elapsed, total)
        result.update(outcome)
        return result
