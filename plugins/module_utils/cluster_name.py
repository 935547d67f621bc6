# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudNativePG cluster names: validation and the `-vN` suffix bump used for each recovery."""

from __future__ import annotations

import re

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

# A DNS-1035 label (what CNPG requires of a Cluster name). 40 characters at most, as the chart's
# values.schema.json says: CNPG derives longer names from it (`<name>-<n>` pods, `<name>-superuser`, PVCs, jobs).
CLUSTER_NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
CLUSTER_NAME_MAX_LENGTH = 40

_VERSION_SUFFIX = re.compile(r"^(?P<base>.*)-v(?P<number>\d+)$")


class ClusterNameError(CollectionError, ValueError):
    """A cluster name that Kubernetes or CloudNativePG would refuse."""


def validate_cluster_name(name: str, option: str) -> str:
    """Return `name` when it is a usable CNPG Cluster name; raise ClusterNameError naming `option` otherwise."""
    if not isinstance(name, str) or not name:
        raise ClusterNameError("%s is empty: give the CloudNativePG cluster name, e.g. pg-cluster-v2." % option)
    if not CLUSTER_NAME_PATTERN.match(name):
        raise ClusterNameError(
            "%s %r is not a valid Kubernetes name for a CloudNativePG cluster: use lowercase letters, digits and '-', "
            "starting with a letter and ending with a letter or digit, e.g. pg-cluster-v2." % (option, name))
    if len(name) > CLUSTER_NAME_MAX_LENGTH:
        raise ClusterNameError(
            "%s %r has %d characters; at most %d are allowed because CloudNativePG derives longer object names from "
            "it. Choose a shorter name." % (option, name, len(name), CLUSTER_NAME_MAX_LENGTH))
    return name


def bump_cluster_name(name: str) -> str:
    """The next name in the `-vN` series: pg-cluster-v1 -> pg-cluster-v2, pg-cluster -> pg-cluster-v2,
    pg-cluster-v9 -> pg-cluster-v10 (zero padding kept: -v09 -> -v10, -v007 -> -v008)."""
    match = _VERSION_SUFFIX.match(name)
    if match and match.group("base"):
        digits = match.group("number")
        return "%s-v%s" % (match.group("base"), str(int(digits) + 1).zfill(len(digits)))
    return name + "-v2"
