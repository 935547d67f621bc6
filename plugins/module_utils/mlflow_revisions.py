# -*- coding: utf-8 -*-
# Copyright (c) mlops.mlflow maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Revision compare and migration plan for MLflow's two alembic chains (tracking and auth).

Plain functions over plain data, standard library only and no imports from the collection: this file is also
shipped verbatim, as the first part of the helper program, into the Python of the TARGET MLflow (on this machine
or in a Job's container), so that both modes decide with the same code.

Data shapes:

- a chain's target description: ``{"graph": {revision: [down_revisions]}, "heads": [...], "version_table": str}``
- a database observation: ``{"reachable": bool, "error": str, "versions": {table: [revisions]},
  "tables": [names], "identity": [...]}``
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

TRACKING = "tracking"
AUTH = "auth"
CHAINS = (TRACKING, AUTH)

# Up to MLflow 3.5 both chains keep their revision in `alembic_version`; 3.6 moved auth to its own table.
SHARED_VERSION_TABLE = "alembic_version"
AUTH_VERSION_TABLE = "alembic_version_auth"
AUTH_MARKER_TABLE = "users"
# A table every schema of the chain has: without it and without a revision, the database is empty.
MARKER_TABLES = {TRACKING: "experiments", AUTH: AUTH_MARKER_TABLE}
EMPTY_NOTE = ("%s database is empty: nothing to migrate, the MLflow server creates the schema when it first starts "
              "(check the URI if this database should hold data)")

EVENT_PREFIX = "MLFLOW_MIGRATE_EVENT "

# From MLflow 3.16 the password older versions shipped for the admin is refused for admin logins.
LEGACY_ADMIN_PASSWORD = "password1234"
LEGACY_ADMIN_PASSWORD_REFUSED_FROM = (3, 16)

# user:password@ in a URL; the password part is replaced, the user name kept so that messages stay useful.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@\s]*)@")
MASK = "********"


class PlanError(Exception):
    """Raised for inputs this module cannot plan from (a malformed observation)."""


# ---------------------------------------------------------------------------------------------------------------
# Revision graph
# ---------------------------------------------------------------------------------------------------------------

def normalise_revisions(value) -> list:
    """Alembic writes a down revision as None, a string or a tuple; return a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def ancestors(graph: dict, revisions) -> set:
    """The revisions and everything below them (alembic applies a revision after all of its down revisions)."""
    seen = set()
    stack = list(revisions)
    while stack:
        revision = stack.pop()
        if revision in seen:
            continue
        if revision not in graph:
            raise PlanError("revision %s is not in the migration graph" % revision)
        seen.add(revision)
        stack.extend(graph[revision])
    return seen


def upgrade_order(graph: dict, heads, current) -> list:
    """The revisions an upgrade from `current` to `heads` runs, in the order it runs them."""
    done = ancestors(graph, current)
    order = []
    visited = set(done)

    def visit(revision):
        # Iterative post-order: down revisions first, then the revision itself.
        stack = [(revision, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in visited:
                continue
            visited.add(node)
            stack.append((node, True))
            for down in sorted(graph[node], reverse=True):
                if down not in visited:
                    stack.append((down, False))

    for head in sorted(heads):
        visit(head)
    return order


def roots(graph: dict) -> list:
    return sorted(revision for revision, downs in graph.items() if not downs)


def as_text(revisions) -> str | None:
    """Report revisions as one string (chains have one head; a branched state is listed comma-separated)."""
    revisions = sorted(revisions or [])
    return ",".join(revisions) if revisions else None


# ---------------------------------------------------------------------------------------------------------------
# Plan
# ---------------------------------------------------------------------------------------------------------------

def current_revisions(chain: str, target: dict, observed: dict) -> tuple:
    """Return (current revisions, note) of `chain` as the TARGET MLflow will see them."""
    versions = observed.get("versions") or {}
    table = target["version_table"]
    current = list(versions.get(table) or [])
    if chain != AUTH:
        return current, None
    if table == SHARED_VERSION_TABLE and versions.get(AUTH_VERSION_TABLE):
        # Migrated by MLflow >= 3.6 (its `alembic_version` is a stale leftover): judge it by the newer table.
        return list(versions[AUTH_VERSION_TABLE]), "auth database migrated by MLflow >= 3.6"
    if table == AUTH_VERSION_TABLE and not current and AUTH_MARKER_TABLE in (observed.get("tables") or []):
        # An auth database made by MLflow < 3.6: its revision is in `alembic_version`. MLflow >= 3.6 stamps such a
        # database at the first auth revision before upgrading, so that is where it starts from.
        legacy = [revision for revision in versions.get(SHARED_VERSION_TABLE) or [] if revision in target["graph"]]
        return (legacy or roots(target["graph"])[:1]), "auth database from MLflow < 3.6 (no %s yet)" % AUTH_VERSION_TABLE
    return current, None


def chain_plan(chain: str, target: dict, observed: dict, mlflow_version: str) -> dict:
    """Where one chain stands against the target: before, head, pending revisions, or why it cannot be migrated."""
    plan = {"before": None, "head": as_text(target["heads"]), "pending": [], "refusal": None, "note": None,
            "warning": None}
    if not observed.get("reachable"):
        plan["refusal"] = ("Cannot connect to or read the %s database: %s. Check the URI, the network path and the "
                           "credentials." % (chain, observed.get("error") or "unknown error"))
        return plan
    current, note = current_revisions(chain, target, observed)
    plan["before"] = as_text(current)
    plan["note"] = note
    unknown = sorted(revision for revision in current if revision not in target["graph"])
    if unknown:
        plan["refusal"] = (
            "The %s database is at revision %s, which MLflow %s does not know: it was migrated by a newer MLflow. "
            "An older MLflow cannot run on it and migrations cannot be undone: restore the database from the backup "
            "taken before that migration, or use an image with the MLflow that migrated it (or newer)."
            % (chain, ", ".join(unknown), mlflow_version))
        return plan
    if not current and MARKER_TABLES[chain] not in (observed.get("tables") or []):
        plan["note"] = plan["warning"] = EMPTY_NOTE % chain
        return plan
    plan["pending"] = upgrade_order(target["graph"], target["heads"], current)
    return plan


def same_database(first: dict, second: dict) -> bool:
    """Whether two observations are of one database (same URL target, or same server-side identity)."""
    for key in ("url_identity", "server_identity"):
        left, right = first.get(key), second.get(key)
        if left and right and left == right:
            return True
    return False


def make_plan(target: dict, observed: dict) -> dict:
    """The whole plan: per chain before/head/pending, plus the refusals that stop any migration.

    `target` has "mlflow_version" and one description per chain; `observed` one observation per chain
    (the auth entry is None when no auth database is managed).
    """
    version = target.get("mlflow_version") or "(unknown version)"
    plan = {"mlflow_version": version, "refusals": []}
    tracking, auth = observed.get(TRACKING), observed.get(AUTH)
    clash = bool(tracking and auth and target[AUTH]["version_table"] == SHARED_VERSION_TABLE
                 and same_database(tracking, auth))
    for chain in CHAINS:
        if observed.get(chain) is None:
            plan[chain] = None
            continue
        plan[chain] = chain_plan(chain, target[chain], observed[chain], version)
        if chain == AUTH and clash:
            # The auth "revision" read here is the tracking one: only the clash itself is worth reporting.
            plan[chain].update(pending=[], refusal=(
                "The tracking and auth databases are the same database, and MLflow %s keeps both revisions in one "
                "`%s` table, so the two migrations would overwrite each other. Move the auth data to a separate "
                "database (and point the auth URI and basic-auth.ini at it), or migrate with MLflow 3.6 or newer, "
                "which uses `%s` for auth." % (version, SHARED_VERSION_TABLE, AUTH_VERSION_TABLE)))
        if plan[chain]["refusal"]:
            plan["refusals"].append(plan[chain]["refusal"])
    return plan


def version_tuple(version: str | None) -> tuple:
    parts = []
    for part in (version or "").split(".")[:3]:
        digits = re.match(r"\d+", part)
        parts.append(int(digits.group(0)) if digits else 0)
    return tuple(parts)


def refuses_legacy_admin_password(version: str | None) -> bool:
    return version_tuple(version)[:2] >= LEGACY_ADMIN_PASSWORD_REFUSED_FROM


def legacy_admin_warning(version: str, users) -> str | None:
    """A warning when admins still have the old default password that the target MLflow refuses."""
    if not users or not refuses_legacy_admin_password(version):
        return None
    return ("admin user(s) %s still have the old default password, which MLflow %s refuses for admin logins. For the "
            "configured admin, start the upgraded server with a new MLFLOW_AUTH_ADMIN_PASSWORD (or admin_password, at "
            "least 12 characters): MLflow replaces the old password at start. For other admins, change it through "
            "the users/update-password API." % (", ".join(sorted(users)), version))


def pending_of(plan: dict) -> dict:
    return {chain: (plan[chain]["pending"] if plan.get(chain) else None) for chain in CHAINS}


def needs_migration(plan: dict) -> bool:
    return any(plan.get(chain) and plan[chain]["pending"] for chain in CHAINS)


# ---------------------------------------------------------------------------------------------------------------
# Outcome (module side): events of the helper program -> the module's result
# ---------------------------------------------------------------------------------------------------------------

def event_line(event: dict) -> str:
    return EVENT_PREFIX + json.dumps(event, sort_keys=True)


def parse_events(text: str) -> list:
    """The helper's events from its output (pod logs may prefix lines with timestamps; other lines are noise)."""
    events = []
    for line in (text or "").splitlines():
        position = line.find(EVENT_PREFIX)
        if position < 0:
            continue
        try:
            event = json.loads(line[position + len(EVENT_PREFIX):])
        except ValueError:
            continue
        if isinstance(event, dict) and "event" in event:
            events.append(event)
    return events


def _last(events: list, kind: str) -> dict | None:
    found = [event for event in events if event["event"] == kind]
    return found[-1] if found else None


def _reread(after_plan: dict | None, chain: str) -> dict | None:
    """The chain as read again after the run, or None when it could not be read (a database that went away
    during the run is a refusal with no revision, not an empty database)."""
    after = (after_plan or {}).get(chain)
    if after is not None and after["before"] is None and after.get("refusal"):
        return None
    return after


def _chain_report(chain: str, before_plan: dict, after_plan: dict | None, failed: bool) -> dict | None:
    before = before_plan.get(chain)
    if before is None:
        return None
    after = _reread(after_plan, chain)
    if after is not None:
        now = after["before"]
    elif failed:
        now = None  # the run stopped before it could read the revisions again
    else:
        now = before["before"]  # nothing ran (check mode, refusal, or nothing pending)
    return {"before": before["before"], "after": now, "head": before["head"]}


def outcome(events: list) -> dict:
    """Turn the helper's events into the module's result.

    Returns a dict with "status" (ok, refused, failed, broken), "changed", "tracking", "auth", "pending",
    "mlflow_version", "notes" and, unless ok, "msg".
    """
    error = _last(events, "error")
    plan_event = _last(events, "plan")
    result_event = _last(events, "result")
    before_plan = plan_event["plan"] if plan_event else None
    after_plan = result_event["plan"] if result_event else None
    if before_plan is None:
        detail = error["message"] if error else "the helper program printed no plan"
        return {"status": "broken", "changed": False, "tracking": None, "auth": None, "pending": None,
                "mlflow_version": None, "notes": [], "warnings": [], "msg": detail}
    reports = {chain: _chain_report(chain, before_plan, after_plan, error is not None) for chain in CHAINS}
    changed = any(report and report["before"] != report["after"] for report in reports.values())
    latest = after_plan or before_plan
    chains = [before_plan[chain] for chain in CHAINS if before_plan.get(chain)]
    result = {"changed": changed, "tracking": reports[TRACKING], "auth": reports[AUTH],
              "pending": pending_of(latest), "mlflow_version": before_plan.get("mlflow_version"),
              "notes": [plan["note"] for plan in chains if plan.get("note")],
              "warnings": [plan["warning"] for plan in chains if plan.get("warning")]}
    if before_plan["refusals"]:
        result.update(status="refused", msg="Refusing to migrate, nothing was changed. " + " ".join(before_plan["refusals"]))
    elif error:
        unread = [chain for chain in CHAINS if before_plan.get(chain) and _reread(after_plan, chain) is None]
        result.update(status="failed", msg=failure_message(error, reports, after_plan is not None and not unread))
    else:
        result["status"] = "ok"
    return result


def failure_message(error: dict, reports: dict, state_known: bool) -> str:
    stage = error.get("stage") or "migration"
    state = []
    for chain in CHAINS:
        report = reports.get(chain)
        if report:
            now = report["after"] if state_known else report["after"] or "unknown"
            state.append("%s at %s (was %s, head %s)" % (chain, now, report["before"], report["head"]))
    applied = any(report and report["before"] != report["after"] for report in reports.values())
    if not state_known:
        verdict = "The revisions could not be read again after the failure: check them before retrying."
    elif applied:
        verdict = ("Some revisions WERE applied. Fix the cause and rerun (migrations continue from where they "
                   "stopped), or restore the database from the backup taken before this run.")
    else:
        verdict = "No revision was applied. Fix the cause and rerun."
    message = error.get("message") or "unknown error"
    return "The %s failed: %s. Revisions now: %s. %s" % (stage, message, "; ".join(state) or "unknown", verdict)


# ---------------------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------------------

def uri_secrets(uri: str | None) -> list:
    """The password of a database URI, as written and decoded, for masking."""
    if not uri:
        return []
    match = _URL_CREDENTIALS.search(uri)
    if not match or not match.group("password"):
        return []
    password = match.group("password")
    return sorted({password, unquote(password)} - {""})


def sanitise(text: str, secrets=()) -> str:
    """Mask URL passwords and any known secret value in `text`."""
    text = _URL_CREDENTIALS.sub(lambda m: "%s%s:%s@" % (m.group("scheme"), m.group("user"), MASK), text or "")
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def tail(text: str, lines: int = 40) -> str:
    return "\n".join((text or "").rstrip("\n").splitlines()[-lines:])
