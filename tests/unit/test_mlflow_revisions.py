"""Revision compare and plan logic of mlflow_migrate (plugins/module_utils/mlflow_revisions.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_revisions import (
    AUTH_VERSION_TABLE,
    SHARED_VERSION_TABLE,
    PlanError,
    ancestors,
    event_line,
    legacy_admin_warning,
    make_plan,
    normalise_revisions,
    outcome,
    parse_events,
    sanitise,
    tail,
    upgrade_order,
    uri_secrets,
)

LINEAR = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]}
# b1 and b2 branch from a and merge in m (alembic merge revisions have two down revisions).
MERGED = {"a": [], "b1": ["a"], "b2": ["a"], "m": ["b1", "b2"], "n": ["m"]}
AUTH_GRAPH = {"8606fa83a998": [], "x1": ["8606fa83a998"], "x2": ["x1"]}


def target(version="3.17.2", auth_table=AUTH_VERSION_TABLE, tracking_graph=None, auth_graph=None):
    tracking_graph = tracking_graph or LINEAR
    auth_graph = auth_graph or AUTH_GRAPH
    return {
        "mlflow_version": version,
        "tracking": {"graph": tracking_graph, "heads": [max(tracking_graph)], "version_table": SHARED_VERSION_TABLE},
        "auth": {"graph": auth_graph, "heads": ["x2"] if "x2" in auth_graph else ["8606fa83a998"],
                 "version_table": auth_table},
    }


def db(versions=None, tables=None, host="db", name="mlflow", server=None):
    return {"reachable": True, "versions": versions or {}, "tables": tables if tables is not None else ["experiments"],
            "url_identity": ["postgresql", host, 5432, name], "server_identity": server}


def test_normalise_revisions_accepts_alembic_spellings():
    assert normalise_revisions(None) == []
    assert normalise_revisions("a") == ["a"]
    assert normalise_revisions(("a", "b")) == ["a", "b"]


def test_upgrade_order_of_a_linear_chain():
    assert upgrade_order(LINEAR, ["d"], ["b"]) == ["c", "d"]
    assert upgrade_order(LINEAR, ["d"], []) == ["a", "b", "c", "d"]
    assert upgrade_order(LINEAR, ["d"], ["d"]) == []


def test_upgrade_order_runs_both_branches_before_the_merge():
    order = upgrade_order(MERGED, ["n"], ["b1"])
    assert sorted(order) == ["b2", "m", "n"]
    assert order.index("b2") < order.index("m") < order.index("n")


def test_ancestors_rejects_unknown_revisions():
    with pytest.raises(PlanError):
        ancestors(LINEAR, ["zz"])


@given(st.integers(min_value=2, max_value=60), st.data())
def test_upgrade_order_applies_exactly_the_missing_revisions_in_order(length, data):
    names = ["r%03d" % index for index in range(length)]
    graph = {name: ([names[index - 1]] if index else []) for index, name in enumerate(names)}
    current = data.draw(st.integers(min_value=-1, max_value=length - 1))
    order = upgrade_order(graph, [names[-1]], [names[current]] if current >= 0 else [])
    assert order == names[current + 1:]


def test_plan_lists_pending_revisions_of_both_chains():
    plan = make_plan(target(), {"tracking": db({"alembic_version": ["b"]}),
                                "auth": db({"alembic_version_auth": ["x1"]}, tables=["users"], name="auth")})
    assert plan["refusals"] == []
    assert plan["tracking"]["before"] == "b" and plan["tracking"]["pending"] == ["c", "d"]
    assert plan["auth"]["pending"] == ["x2"]


def test_plan_refuses_a_revision_the_target_does_not_know():
    plan = make_plan(target(version="2.22.5"), {"tracking": db({"alembic_version": ["future"]}), "auth": None})
    assert plan["auth"] is None
    assert len(plan["refusals"]) == 1
    assert "future" in plan["refusals"][0] and "2.22.5" in plan["refusals"][0] and "restore" in plan["refusals"][0]
    assert plan["tracking"]["pending"] == []


def test_plan_refuses_an_unreachable_database():
    plan = make_plan(target(), {"tracking": db({"alembic_version": ["d"]}),
                                "auth": {"reachable": False, "error": "connection refused"}})
    assert plan["refusals"] == [plan["auth"]["refusal"]]
    assert "Cannot connect" in plan["auth"]["refusal"] and "connection refused" in plan["auth"]["refusal"]


def test_plan_treats_a_pre_3_6_auth_database_as_at_its_legacy_revision():
    legacy = db({"alembic_version": ["8606fa83a998"]}, tables=["users", "alembic_version"], name="auth")
    plan = make_plan(target(), {"tracking": db({"alembic_version": ["d"]}), "auth": legacy})
    assert plan["auth"]["before"] == "8606fa83a998"
    assert plan["auth"]["pending"] == ["x1", "x2"]
    assert "MLflow < 3.6" in plan["auth"]["note"]


def test_plan_judges_an_auth_database_migrated_by_3_6_with_its_new_table():
    newer = db({"alembic_version": ["8606fa83a998"], "alembic_version_auth": ["x2"]}, tables=["users"], name="auth")
    old_target = target(version="3.5.0", auth_table=SHARED_VERSION_TABLE, auth_graph={"8606fa83a998": []})
    plan = make_plan(old_target, {"tracking": db({"alembic_version": ["d"]}), "auth": newer})
    assert any("x2" in refusal for refusal in plan["refusals"])


@pytest.mark.parametrize("auth_table, refused", [(SHARED_VERSION_TABLE, True), (AUTH_VERSION_TABLE, False)])
def test_plan_refuses_shared_database_only_when_the_chains_share_a_version_table(auth_table, refused):
    shared = db({"alembic_version": ["d"]}, tables=["experiments", "users"])
    plan = make_plan(target(auth_table=auth_table), {"tracking": shared, "auth": dict(shared)})
    assert any("same database" in refusal for refusal in plan["refusals"]) is refused
    if refused:
        assert len(plan["refusals"]) == 1, "the clash hides the auth chain's misleading revision"


def test_same_database_is_recognised_by_the_server_identity():
    tracking = db({"alembic_version": ["d"]}, host="127.0.0.1", server=["10.0.0.5", 5432, "mlflow"])
    auth = db({}, tables=[], host="localhost", server=["10.0.0.5", 5432, "mlflow"])
    plan = make_plan(target(version="3.5.0", auth_table=SHARED_VERSION_TABLE), {"tracking": tracking, "auth": auth})
    assert any("same database" in refusal for refusal in plan["refusals"])


def test_empty_databases_are_left_to_the_server_with_a_warning():
    plan = make_plan(target(), {"tracking": db(tables=[]), "auth": db(tables=[], name="auth")})
    assert plan["refusals"] == []
    assert plan["tracking"]["pending"] == [] and plan["auth"]["pending"] == []
    assert "empty" in plan["tracking"]["warning"]


def events_for(before_plan, after_plan=None, error=None):
    lines = ["noise", event_line({"event": "plan", "plan": before_plan})]
    if error:
        lines.append(event_line(dict(error, event="error")))
    if after_plan:
        lines.append("2026-01-01T00:00:00Z " + event_line({"event": "result", "plan": after_plan}))
    return parse_events("\n".join(lines))


def test_outcome_reports_changed_only_when_a_revision_moved():
    observed = {"tracking": db({"alembic_version": ["b"]}), "auth": None}
    before = make_plan(target(), observed)
    after = make_plan(target(), {"tracking": db({"alembic_version": ["d"]}), "auth": None})
    moved = outcome(events_for(before, after))
    assert moved["status"] == "ok" and moved["changed"] is True
    assert moved["tracking"] == {"before": "b", "after": "d", "head": "d"}
    assert moved["pending"] == {"tracking": [], "auth": None}
    preview = outcome(events_for(before))
    assert preview["changed"] is False and preview["tracking"]["after"] == "b"
    assert preview["pending"]["tracking"] == ["c", "d"]


def test_outcome_of_a_failure_says_what_was_applied():
    before = make_plan(target(), {"tracking": db({"alembic_version": ["a"]}), "auth": None})
    partly = make_plan(target(), {"tracking": db({"alembic_version": ["c"]}), "auth": None})
    error = {"stage": "tracking migration", "message": "ProgrammingError: boom"}
    result = outcome(events_for(before, partly, error))
    assert result["status"] == "failed" and result["changed"] is True
    assert "boom" in result["msg"] and "WERE applied" in result["msg"] and "tracking at c" in result["msg"]
    untouched = outcome(events_for(before, before, error))
    assert "No revision was applied" in untouched["msg"] and untouched["changed"] is False
    unknown = outcome(events_for(before, None, error))
    assert unknown["tracking"]["after"] is None and "could not be read again" in unknown["msg"]
    # PostgreSQL went away during the migration: the re-read is a refusal, not "no revision" (found by
    # tests/e2e/test_faults.py, where it was reported as "Some revisions WERE applied").
    gone = make_plan(target(), {"tracking": {"reachable": False, "error": "connection refused"}, "auth": None})
    unreachable = outcome(events_for(before, gone, error))
    assert "could not be read again" in unreachable["msg"] and "WERE applied" not in unreachable["msg"]
    assert "tracking at unknown (was a" in unreachable["msg"]


def test_outcome_without_a_plan_is_broken_with_the_helper_message():
    result = outcome(parse_events(event_line({"event": "error", "stage": "setup", "message": "MLflow is not importable"})))
    assert result["status"] == "broken" and result["msg"] == "MLflow is not importable"


def test_outcome_of_a_refusal_changes_nothing():
    before = make_plan(target(version="2.22.5"), {"tracking": db({"alembic_version": ["zz"]}), "auth": None})
    result = outcome(events_for(before))
    assert result["status"] == "refused" and result["changed"] is False
    assert result["msg"].startswith("Refusing to migrate, nothing was changed.")


def test_parse_events_ignores_malformed_lines():
    text = "MLFLOW_MIGRATE_EVENT {not json\nMLFLOW_MIGRATE_EVENT [1]\n" + event_line({"event": "done"})
    assert parse_events(text) == [{"event": "done"}]


def test_uri_secrets_and_sanitise_mask_passwords_raw_and_encoded():
    uri = "postgresql://app:p%40ss%25word@db:5432/mlflow"
    assert uri_secrets(uri) == sorted({"p%40ss%25word", "p@ss%word"})
    assert uri_secrets("sqlite:////tmp/x.db") == []
    text = "failed for %s (password p@ss%%word)" % uri
    cleaned = sanitise(text, uri_secrets(uri))
    assert "p%40ss" not in cleaned and "p@ss" not in cleaned
    assert "postgresql://app:********@db:5432/mlflow" in cleaned


def test_sanitise_masks_unknown_url_passwords_too():
    assert sanitise("mysql+pymysql://root:hunter22@h/db") == "mysql+pymysql://root:********@h/db"


def test_tail_keeps_the_last_lines():
    assert tail("\n".join(str(n) for n in range(100)), 3) == "97\n98\n99"


@pytest.mark.parametrize("version, warned", [("3.15.9", False), ("3.16.0", True), ("3.17.2", True), ("4.0.0rc1", True)])
def test_legacy_admin_password_warning_from_3_16(version, warned):
    warning = legacy_admin_warning(version, ["admin"])
    assert (warning is not None) is warned
    if warned:
        assert "admin" in warning and "MLFLOW_AUTH_ADMIN_PASSWORD" in warning
    assert legacy_admin_warning(version, []) is None
