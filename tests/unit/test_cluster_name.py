"""Cluster names: what Kubernetes/CNPG accept, and the -vN bump."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mlops.mlflow.plugins.module_utils.cluster_name import (
    CLUSTER_NAME_MAX_LENGTH, ClusterNameError, bump_cluster_name, validate_cluster_name)


@pytest.mark.parametrize("name, bumped", [
    ("pg-cluster-v1", "pg-cluster-v2"),
    ("pg-cluster", "pg-cluster-v2"),
    ("pg-cluster-v9", "pg-cluster-v10"),
    ("pg-cluster-v09", "pg-cluster-v10"),
    ("pg-cluster-v007", "pg-cluster-v008"),
    ("pg-v1-cluster", "pg-v1-cluster-v2"),
    ("pg-cluster-v", "pg-cluster-v-v2"),
    ("pgv1", "pgv1-v2"),
    ("db2", "db2-v2"),
])
def test_bump(name, bumped):
    assert bump_cluster_name(name) == bumped


@pytest.mark.parametrize("name", ["pg-cluster-v1", "a", "a1", "a-b", "x" * CLUSTER_NAME_MAX_LENGTH])
def test_valid_names(name):
    assert validate_cluster_name(name, "new_cluster_name") == name


@pytest.mark.parametrize("name", ["", "PG-cluster", "1pg", "pg_cluster", "pg-", "-pg", "pg.cluster", "pg cluster",
                                  "x" * (CLUSTER_NAME_MAX_LENGTH + 1), None])
def test_invalid_names_name_the_option(name):
    with pytest.raises(ClusterNameError, match="new_cluster_name"):
        validate_cluster_name(name, "new_cluster_name")


_names = st.from_regex(r"\A[a-z]([-a-z0-9]{0,30}[a-z0-9])?\Z")


@given(_names)
def test_bump_always_gives_a_different_valid_name_ending_in_a_version(name):
    bumped = bump_cluster_name(name)
    assert bumped != name
    assert validate_cluster_name(bumped, "bumped") == bumped
    assert bumped.rsplit("-v", 1)[1].isdigit()


@given(_names)
def test_bumping_twice_moves_on_again(name):
    once = bump_cluster_name(name)
    assert bump_cluster_name(once) not in (name, once)
