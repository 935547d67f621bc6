"""One sandbox with real processes per pytest worker (tests/README.md, "Concurrency"); each test deploys into its
own namespace. (The scenarios that share one installation are in tests/live, on a sandbox of their own.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.sandbox_flows import Sandbox


@pytest.fixture(name="sandbox", scope="session")
def fixture_sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(name="namespace")
def fixture_namespace(sandbox: Sandbox) -> Iterator[str]:
    """A namespace name for one MLflow installation; deleted (with every process in it) afterwards."""
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    yield name
    sandbox.delete_namespace(name)
