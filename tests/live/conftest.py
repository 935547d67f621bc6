"""The live target: the cluster `--live-target FILE` describes (`make test-live LIVE_TARGET=FILE`), or, without
one, a plain-Kubernetes sandbox written up as such a file (tests/e2e/live_sandbox.py) - so that `make test` proves
the path a person with a real cluster takes. Nothing below sees which one it is."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from tests.live.kube import Kube
from tests.live.target import Target

# Imported by name only when no target is given: the scenarios never import the sandbox
# (tests/unit/test_live_isolation.py).
SANDBOX_PROVISIONER = "tests.e2e.live_sandbox"


@pytest.fixture(name="target", scope="session")
def fixture_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    path = request.config.getoption("--live-target")
    if path:
        yield Target.load(path)
        return
    with importlib.import_module(SANDBOX_PROVISIONER).sandbox_target() as target:
        yield target


@pytest.fixture(name="admin", scope="session")
def fixture_admin(target: Target) -> Kube:
    """The target's identity: it makes and removes the scenarios' namespaces and runs playbooks/rbac.yml."""
    return Kube(target.kubeconfig, target.context)
