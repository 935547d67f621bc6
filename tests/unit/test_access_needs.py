"""The one list of what each playbook does on the API: complete against the roles and the chart, and the Role that
rbac.yml grants allows every check the preflight makes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.mlops.mlflow.plugins.filter.access_rules import access_rules
from ansible_collections.mlops.mlflow.plugins.module_utils.access_needs import FLOWS, NEEDS, checks, role_rules
from ansible_collections.mlops.mlflow.plugins.module_utils.access_review import rule_grants

REPO = Path(__file__).resolve().parents[2]
ROLE_OF_FLOW = {"deploy": "deploy", "upgrade": "upgrade", "recover": "recovery", "recovery_drill": "drill",
                "backup_check": "backup_check", "decommission": "decommission"}


def allowed(rules: list, group: str, resource: str, verb: str) -> bool:
    return any(group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
               for rule in rules)


@pytest.mark.parametrize("flow", FLOWS)
def test_the_role_rbac_yml_grants_allows_every_check_of_the_flow(flow):
    rules = role_rules([flow])
    for group, resource, subresource, verb, _why in checks([flow]):
        assert allowed(rules, group, resource + ("/" + subresource if subresource else ""), verb), \
            (flow, group, resource, subresource, verb)


def test_rules_are_stable_and_merged_per_group_and_verbs():
    rules = access_rules(list(FLOWS))
    assert rules == access_rules(list(reversed(FLOWS)))
    assert len({(rule["apiGroups"][0], tuple(rule["verbs"])) for rule in rules}) == len(rules)
    assert not allowed(rules, "", "namespaces", "create"), "creating namespaces is never in the namespaced Role"
    assert not allowed(role_rules(["backup_check"]), "", "secrets", "create"), "backup_check only reads"


def test_checks_are_each_asked_once_and_unknown_flows_are_refused():
    found = checks(list(FLOWS) + ["deploy"])
    assert len(found) == len({item[:4] for item in found})
    with pytest.raises(ValueError, match="unknown flow"):
        checks(["upgrade", "teleport"])
    with pytest.raises(Exception, match="unknown playbook"):
        access_rules(["teleport"])


def _tasks(path: Path):
    def walk(tasks):
        for task in tasks or []:
            if isinstance(task, dict):
                for key in ("block", "rescue", "always"):
                    yield from walk(task.get(key))
                yield task
    yield from walk(yaml.safe_load(path.read_text()))


def _plural(kind: str) -> str:
    return kind.lower() + ("es" if kind.endswith("s") else "s")


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


@pytest.mark.parametrize("flow", FLOWS)
def test_every_kind_a_role_reads_or_writes_is_in_its_flows_needs(flow):
    """A task of the flow's role (or of common, which every role uses) on a kind the list forgets would be a 403
    half-way for a least-privileged identity, after the preflight said yes."""
    granted = {(group, resource) for group, resource, _verbs, _why in NEEDS[flow]}
    roles = [REPO / "roles" / ROLE_OF_FLOW[flow] / "tasks"]
    for tasks in roles:
        for path in sorted(tasks.glob("*.yml")):
            for task in _tasks(path):
                for module in ("kubernetes.core.k8s_info", "kubernetes.core.k8s"):
                    args = task.get(module)
                    if isinstance(args, dict) and isinstance(args.get("kind"), str) and "{" not in args["kind"]:
                        key = (_group(args["api_version"]), _plural(args["kind"]))
                        if key == ("", "namespaces") and flow in ("deploy", "recovery_drill"):
                            continue  # created only on request: a cluster-scoped rule the role asks for itself
                        assert key in granted, "%s: %s uses %s" % (flow, path.name, key)


def test_every_kind_the_chart_renders_is_applied_by_the_helm_needs():
    granted = {(group, resource) for group, resource, verbs, _why in NEEDS["deploy"] if "patch" in verbs}
    for template in sorted((REPO / "charts" / "mlflow" / "templates").glob("*.yaml")):
        text = template.read_text()
        api, kind = re.search(r"^apiVersion: (\S+)", text, re.M), re.search(r"^kind: (\w+)", text, re.M)
        if api and kind:
            assert (_group(api.group(1)), _plural(kind.group(1))) in granted, template.name


@pytest.mark.parametrize("rule, request_, granted", [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, ("", "pods", "", "get"), True),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, ("", "pods", "exec", "create"), True),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]}, ("", "pods", "exec", "create"), False),
    ({"verbs": ["create"], "apiGroups": [""], "resources": ["*/exec"]}, ("", "pods", "exec", "create"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["x"]},
     ("", "secrets", "", "get"), False),
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"]}, ("", "deployments", "", "get"), False),
], ids=["exact", "wildcards", "subresource-not-implied", "star-subresource", "resource-names", "other-group"])
def test_a_held_rule_grants_what_rbac_would(rule, request_, granted):
    assert rule_grants(rule, *request_) is granted
