"""The one list of what each playbook does on the API: complete against the roles and the chart, and the Role that
rbac.yml grants allows every check the preflight makes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.mlops.mlflow.plugins.filter.access_rules import access_rules
from ansible_collections.mlops.mlflow.plugins.module_utils.access_needs import (
    DRILL_NAMESPACE_MODES, DRILL_NAMESPACE_NEEDS, DRILL_PROJECT_BINDING, DRILL_PROJECT_NEEDS, FLOWS, NEEDS, checks,
    drill_namespace_rules, role_rules)
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
    if flow == "recovery_drill":
        # The drill namespace's own needs, asked by mode; the access review every identity may send.
        granted |= {(group, resource) for needs in DRILL_NAMESPACE_NEEDS.values()
                    for group, resource, _verbs, _why in needs + DRILL_PROJECT_NEEDS + DRILL_PROJECT_BINDING}
        granted.add(("authorization.k8s.io", "selfsubjectaccessreviews"))
    roles = [REPO / "roles" / ROLE_OF_FLOW[flow] / "tasks"]
    for tasks in roles:
        for path in sorted(tasks.glob("*.yml")):
            for task in _tasks(path):
                for module in ("kubernetes.core.k8s_info", "kubernetes.core.k8s"):
                    args = task.get(module)
                    if isinstance(args, dict) and isinstance(args.get("kind"), str) and "{" not in args["kind"]:
                        key = (_group(args["api_version"]), _plural(args["kind"]))
                        if key == ("", "namespaces") and flow == "deploy":
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


@pytest.mark.parametrize("mode", DRILL_NAMESPACE_MODES)
def test_the_drill_asks_for_what_its_namespace_mode_needs(mode):
    """The drill role's preflight asks, through the drill_access_rules filter, the list's rules of its namespace
    mode at the cluster scope: a provided namespace nothing, a project request `create projectrequests`, a Namespace
    create/delete; and in the project it asked for, get/delete on that project."""
    from ansible.errors import AnsibleFilterError
    from ansible_collections.mlops.mlflow.plugins.filter.drill_access_rules import drill_access_rules

    def key(rule):
        return rule["group"], rule["resource"], sorted(rule["verbs"]), rule.get("cluster_scoped", False)

    asked = drill_access_rules(mode)
    assert [key(rule) for rule in asked] == [key(rule) for rule in drill_namespace_rules(mode)]
    assert all(rule["why"] for rule in asked)
    if mode == "project_request":
        assert [key(rule) for rule in asked] == [("project.openshift.io", "projectrequests", ["create"], True)]
        assert [key(rule) for rule in drill_access_rules("in_project")] == \
            [(group, resource, sorted(verbs), False) for group, resource, verbs, _why in DRILL_PROJECT_NEEDS]
    if mode == "namespace":
        assert [key(rule) for rule in asked] == [("", "namespaces", ["create", "delete", "get"], True)]
    preflight = (REPO / "roles" / "drill" / "tasks" / "preflight.yml").read_text()
    assert "__drill_ns_mode | mlops.mlflow.drill_access_rules" in preflight
    with pytest.raises(AnsibleFilterError, match="unknown drill namespace mode"):
        drill_access_rules("borrowed")


def test_rbac_grants_project_drills_what_they_use_and_no_namespace_right():
    """rbac.yml's project-request grants: self-provisioner, a ClusterRole with the drill's rules and the projects it
    deletes (bound by the drill in its project only), `bind` on that one ClusterRole; nothing on namespaces."""
    tasks = yaml.safe_load((REPO / "roles" / "rbac" / "tasks" / "main.yml").read_text())
    task = next(t for t in tasks if t.get("when") == "rbac_drill_project_requests")
    objects = {(item["kind"], item["metadata"]["name"]): item for item in task["loop"]}
    role = objects[("ClusterRole", "{{ rbac_role_name }}-drill-project")]
    for group, resource, verbs, _why in DRILL_PROJECT_NEEDS:
        assert "'apiGroups': ['%s'], 'resources': ['%s'], 'verbs': %s" % (group, resource, sorted(verbs)) \
            in role["rules"]
    assert "['recovery_drill'] | mlops.mlflow.access_rules" in role["rules"] and "namespaces" not in role["rules"]
    binder = objects[("ClusterRole", "{{ rbac_role_name }}-drill-project-binder")]
    assert binder["rules"] == [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                                "verbs": ["bind"], "resourceNames": ["{{ rbac_role_name }}-drill-project"]}]
    provisioner = objects[("ClusterRoleBinding", "{{ rbac_role_name }}-self-provisioner")]
    assert provisioner["roleRef"]["name"] == "self-provisioner"
    defaults = yaml.safe_load((REPO / "roles" / "drill" / "defaults" / "main.yml").read_text())
    assert defaults["drill_project_role"] == "mlops-mlflow-automation-drill-project"
