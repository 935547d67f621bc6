# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mlflow_migrate module's work: check the options of the chosen mode, run the helper there (this node's
Python, `mlflow_migrate_local`; or a Job with the target image, `mlflow_migrate_job`) and report what changed.

`changed` is what a real run reports in both modes: in check mode, whether revisions are pending (a real run would
migrate them); a plan_only run never changes anything.
"""

from __future__ import annotations

import time

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_job import run_job_mode
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_migrate_local import run_local_mode
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import uri_secrets
from ansible_collections.mlops.mlflow.plugins.module_utils.sqlalchemy_uri import UriError, parse_uri

LOCAL_ONLY = ("backend_store_uri", "auth_db_uri", "mlflow_python")
JOB_ONLY = ("namespace", "image", "tracking_uri_secret", "tracking_uri", "auth_uri_secret", "auth_config_secret",
            "env")
RESULT_KEYS = ("tracking", "auth", "pending", "mlflow_version", "notes", "log_tail", "job_name", "job_kept")


def misplaced_options(params: dict) -> str | None:
    """Options of the other mode are a mistake worth stopping for (a URI silently ignored would surprise)."""
    if params["mode"] == "local":
        given = [name for name in JOB_ONLY if params.get(name)]
        if given:
            return "%s only apply to mode=job; in local mode give backend_store_uri and auth_db_uri" % ", ".join(given)
        return None
    given = [name for name in LOCAL_ONLY if params.get(name)]
    if given:
        return ("%s only apply to mode=local; in job mode the URIs come from tracking_uri_secret / auth_uri_secret "
                "and MLflow from image" % ", ".join(given))
    return credentials_in_job_uri(params.get("tracking_uri"))


def credentials_in_job_uri(uri: str | None) -> str | None:
    """A tracking_uri is written into the Job's spec as it is: it may name the database, never a password."""
    if not uri:
        return None
    try:
        parsed = parse_uri(uri)
    except UriError as exc:
        return "tracking_uri: %s" % exc
    if parsed.password is not None:
        return ("tracking_uri carries a password, which would be stored in the Job's spec; give the URI without "
                "credentials and the user and password in env (PGUSER/PGPASSWORD from a Secret), or the whole URI in "
                "tracking_uri_secret")
    return None


def would_change(result: dict, check_mode: bool, plan_only: bool) -> bool:
    if plan_only:
        return False
    if check_mode:
        return any((result.get("pending") or {}).values())
    return bool(result.get("changed"))


def diff_of(result: dict, check_mode: bool) -> dict:
    before, after = {}, {}
    for chain in ("tracking", "auth"):
        report = result.get(chain)
        if report:
            before[chain] = report["before"]
            after[chain] = report["head"] if check_mode and (result.get("pending") or {}).get(chain) else report["after"]
    return {"before": before, "after": after}


def known(result: dict) -> dict:
    return {key: result[key] for key in RESULT_KEYS if key in result}


def run_migrate(module) -> dict:
    params = module.params
    # The password inside a URI is a secret of its own: mask it wherever it shows up.
    module.hide(*uri_secrets(params["backend_store_uri"]) + uri_secrets(params["auth_db_uri"]))
    problem = misplaced_options(params)
    if problem:
        raise CollectionError(problem)
    started = time.monotonic()
    try:
        result = run_local_mode(module) if params["mode"] == "local" else run_job_mode(module)
    except CollectionError as exc:
        failed = known(exc.result)
        changed = any(failed.get(chain) and failed[chain]["before"] != failed[chain]["after"]
                      for chain in ("tracking", "auth"))
        raise CollectionError(str(exc), changed=changed, duration=round(time.monotonic() - started, 3),
                              **failed) from None
    output = known(result)
    output.update(changed=would_change(result, module.check_mode, params["plan_only"]),
                  duration=round(time.monotonic() - started, 3), warnings=result.get("warnings") or [])
    if module._diff:  # pylint: disable=protected-access
        output["diff"] = diff_of(result, module.check_mode)
    return output
