# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of the errors the collection raises for a person to act on, and its one translation to a failure.

A CollectionError's message says what was wrong and what to do, and never holds a secret; `result` carries what is
known at the point of failure (revisions now, a kept Job's name), returned beside the message. The errors that
are also bad values (a URI, a time, a version) are ValueErrors too, so that a filter or a caller may catch them as
such. Two error classes stay outside this base on purpose: `mlflow_revisions.PlanError` and
`mlflow_migrate_runner.TargetError` run in the target MLflow's Python, which has no copy of this collection.
"""

from __future__ import annotations


class CollectionError(Exception):
    """A failure with a message for the person running the task, and what is known (`result`)."""

    def __init__(self, msg="", **result):
        super().__init__(msg)
        self.result = result


def fail_with(module, error, **extra):
    """Fail the module with the error's message and result (the one place an error becomes `fail_json`)."""
    module.fail_json(msg=str(error), **dict(error.result, **extra))
