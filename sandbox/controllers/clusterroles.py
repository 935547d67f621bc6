"""kube-controller-manager's clusterrole-aggregation controller
(pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go): a ClusterRole with an
`aggregationRule` gets as `rules` the rules of every other ClusterRole its selectors pick, in name order, each rule
once. So admin, edit and view grow when a chart or an operator installs a ClusterRole labelled
`rbac.authorization.k8s.io/aggregate-to-admin: "true"` (and shrink when it goes); the authorizer reads only the
stored rules, as on a cluster.
"""

from __future__ import annotations

from typing import Any

from .base import Controller
from .util import selector_string

CLUSTER_ROLE = ("rbac.authorization.k8s.io/v1", "ClusterRole")


def _normal(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule without empty fields (equality.Semantic: a missing list equals an empty one)."""
    return {key: value for key, value in rule.items() if value}


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation-controller"
    kind = CLUSTER_ROLE

    def reconcile(self, obj, namespace, name):
        # Any ClusterRole's change may change any aggregate: like the real controller, look at them all. Until
        # nothing changes, since an aggregate may itself be aggregated (view into edit, edit into admin).
        for _ in range(5):
            if not self._sync_all():
                break
        return None

    def _sync_all(self) -> bool:
        changed = False
        for role in self.client.list(*CLUSTER_ROLE):
            selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors")
            if selectors is None:
                continue
            rules: list[dict[str, Any]] = []
            for selector in selectors:
                picked = self.client.list(*CLUSTER_ROLE, label_selector=selector_string(selector))
                for other in sorted(picked, key=lambda r: r["metadata"]["name"]):
                    if other["metadata"]["name"] == role["metadata"]["name"]:
                        continue
                    for rule in other.get("rules") or ():
                        if _normal(rule) not in [_normal(r) for r in rules]:
                            rules.append(rule)
            if [_normal(r) for r in rules] != [_normal(r) for r in role.get("rules") or ()]:
                self.client.update(dict(role, rules=rules))
                changed = True
        return changed
