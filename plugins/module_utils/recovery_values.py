# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The chart values of a point-in-time recovery into a new CloudNativePG cluster.

Exactly four values move: `postgresql.clusterName` (the NEW cluster), `recovery.serverName` (the cluster whose
backups are restored), `recovery.targetTime` and `mlflow.replicas: 0`.

Which cluster is restored (the rule for repeated runs and repeated recoveries):
- `recovery.serverName` empty: the values describe a live cluster `postgresql.clusterName`; it is the source and
  the new name is `new_cluster_name` or the `-vN` bump of the current name.
- `recovery.serverName` S set (and different from the cluster name C): the values already describe the recovery
  S -> C. Running again (no `new_cluster_name`, or the same C) keeps S -> C: no second bump.
- A NEW recovery from C (the cluster an earlier recovery created) is asked for explicitly with
  `source_cluster_name: C`; restoring S into another name instead with `source_cluster_name: S` and
  `new_cluster_name`. A `new_cluster_name` other than C without `source_cluster_name` is ambiguous and refused.
"""

from __future__ import annotations

import copy

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.cluster_name import bump_cluster_name, validate_cluster_name
from ansible_collections.mlops.mlflow.plugins.module_utils.rfc3339 import TargetTimeError, parse_target_time

CLUSTER_NAME_KEY = "postgresql.clusterName"
SERVER_NAME_KEY = "recovery.serverName"
TARGET_TIME_KEY = "recovery.targetTime"
REPLICAS_KEY = "mlflow.replicas"
MANAGED_KEYS = (CLUSTER_NAME_KEY, SERVER_NAME_KEY, TARGET_TIME_KEY, REPLICAS_KEY)


class RecoveryValuesError(CollectionError, ValueError):
    """Values or options that do not describe a recovery this module can prepare."""


class RecoveryNames:
    """Who restores from whom: `source` (old cluster, becomes recovery.serverName) and `new` (postgresql.clusterName).

    `current` and `server` are the values' clusterName and recovery.serverName as found; `already_prepared` is true
    when the values already name this recovery (the cluster names do not move).
    """

    __slots__ = ("current", "server", "source", "new")

    def __init__(self, current: str, server: str, source: str, new: str) -> None:
        self.current = current
        self.server = server
        self.source = source
        self.new = new

    @property
    def already_prepared(self) -> bool:
        return self.source == self.server and self.new == self.current

    def __repr__(self) -> str:
        return "RecoveryNames(%s -> %s)" % (self.source, self.new)


def get_dotted(values: dict, dotted_key: str, default=None):
    node = values
    for part in dotted_key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def set_dotted(values: dict, dotted_key: str, value) -> None:
    parts = dotted_key.split(".")
    node = values
    for depth, part in enumerate(parts[:-1]):
        if node.get(part) is None:
            node[part] = {}
        elif not isinstance(node[part], dict):
            raise RecoveryValuesError("values key %s is a %s, but a mapping is needed to set %s." % (
                ".".join(parts[:depth + 1]), type(node[part]).__name__, dotted_key))
        node = node[part]
    node[parts[-1]] = value


def resolve_names(values: dict, new_cluster_name: str | None = None,
                  source_cluster_name: str | None = None) -> RecoveryNames:
    """Decide the source and new cluster names (see the module docstring for the rule)."""
    if not isinstance(values, dict):
        raise RecoveryValuesError("the values must be a mapping of Helm values, not a %s." % type(values).__name__)
    current = get_dotted(values, CLUSTER_NAME_KEY)
    if not current:
        raise RecoveryValuesError(
            "the values have no postgresql.clusterName: give the values of the release that runs the cluster to "
            "recover (postgresql.clusterName is the cluster whose backups are restored).")
    validate_cluster_name(current, "postgresql.clusterName in the values")
    server = get_dotted(values, SERVER_NAME_KEY) or ""
    if server:
        validate_cluster_name(server, "recovery.serverName in the values")
    pending = bool(server) and server != current
    if new_cluster_name is not None:
        validate_cluster_name(new_cluster_name, "new_cluster_name")
    if source_cluster_name is not None:
        validate_cluster_name(source_cluster_name, "source_cluster_name")

    if source_cluster_name is not None:
        if source_cluster_name != current and not (pending and source_cluster_name == server):
            raise RecoveryValuesError(
                "source_cluster_name %r is neither postgresql.clusterName (%s) nor recovery.serverName (%s) of the "
                "values: restore the live cluster (source_cluster_name: %s), or check that these are the values of "
                "the right release." % (source_cluster_name, current, server or "empty", current))
        source = source_cluster_name
    elif not pending:
        source = current
    elif new_cluster_name is not None and new_cluster_name != current:
        raise RecoveryValuesError(
            "the values are already prepared for a recovery from %s into %s, and new_cluster_name asks for %s. Say "
            "which cluster to restore: source_cluster_name: %s for a new recovery from the cluster the earlier one "
            "created, or source_cluster_name: %s to restore %s into %s instead."
            % (server, current, new_cluster_name, current, server, server, new_cluster_name))
    else:
        source = server

    if new_cluster_name is not None:
        new = new_cluster_name
    elif source == current:
        new = bump_cluster_name(current)
        validate_cluster_name(new, "the bumped cluster name (set new_cluster_name)")
    else:
        new = current

    if new == source:
        raise RecoveryValuesError(
            "new_cluster_name %r is the cluster being restored: a cluster recovered under its old name archives into "
            "the same backup folder and hangs on \"Expected empty archive\". Use a new name, e.g. %s."
            % (new, bump_cluster_name(source)))
    if pending and new == server and source != server:
        raise RecoveryValuesError(
            "new_cluster_name %r is the cluster an earlier recovery restored from (recovery.serverName); its backup "
            "folder holds that cluster's WAL, so a new cluster with this name would hang on \"Expected empty "
            "archive\". Use a name never used before, e.g. %s." % (new, bump_cluster_name(current)))
    return RecoveryNames(current=current, server=server, source=source, new=new)


def _same_instant(current, target) -> bool:
    try:
        return parse_target_time(current).instant == target.instant
    except TargetTimeError:
        return False


def recovery_updates(values: dict, names: RecoveryNames, target=None, started: bool = False) -> dict:
    """The managed keys whose value must change, as {dotted key: new value}.

    `target` is a parsed TargetTime or None for "the latest WAL" (an old recovery.targetTime is then cleared). A
    targetTime that already names the same instant (in another zone or spelling) is left as written.
    `started`: the new cluster of already prepared values has begun archiving (the recovery ran); nothing is
    changed then (replicas may have been scaled back up since), and a different target is refused.
    """
    updates = {}
    if get_dotted(values, CLUSTER_NAME_KEY) != names.new:
        updates[CLUSTER_NAME_KEY] = names.new
    if get_dotted(values, SERVER_NAME_KEY) != names.source:
        updates[SERVER_NAME_KEY] = names.source
    current_target = get_dotted(values, TARGET_TIME_KEY)
    if target is not None:
        if not (isinstance(current_target, str) and _same_instant(current_target, target)):
            updates[TARGET_TIME_KEY] = target.text
    elif current_target not in (None, ""):
        updates[TARGET_TIME_KEY] = ""
    replicas = get_dotted(values, REPLICAS_KEY)
    if isinstance(replicas, bool) or replicas != 0:
        updates[REPLICAS_KEY] = 0
    if started:
        if TARGET_TIME_KEY in updates:
            raise RecoveryValuesError(
                "the recovery from %s into %s has already started (%s archives WAL of the restored database), so "
                "its target time can no longer change (recovery.targetTime is %r, target_time asks for %r). To "
                "recover to another time, restore %s again into a new cluster: source_cluster_name: %s and "
                "new_cluster_name: %s." % (names.source, names.new, names.new, current_target or "",
                                           updates[TARGET_TIME_KEY] or "the latest WAL", names.source, names.source,
                                           bump_cluster_name(names.new)))
        return {}
    return updates


def apply_updates(values: dict, updates: dict) -> dict:
    """A deep copy of `values` with `updates` (dotted keys) set; the input is left untouched."""
    result = copy.deepcopy(values)
    for key in MANAGED_KEYS:
        if key in updates:
            set_dotted(result, key, updates[key])
    return result
