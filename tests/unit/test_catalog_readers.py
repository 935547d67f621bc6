"""Which reader reads the backup catalog for pg_recover_prepare, and what a failure of both says."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils import recovery_prepare
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

STORE = {"destination_path": "s3://mlflow-backups/team-a", "endpoint_url": "https://s3.example:9000",
         "addressing_style": "auto"}
WHERE = "s3://mlflow-backups/team-a at https://s3.example:9000"


def module(catalog_from: str = "auto", job: bool = True):
    params = {"object_store": STORE, "catalog_from": catalog_from,
              "catalog_job": {"namespace": "team-a"} if job else None}
    return SimpleNamespace(params=params, check_mode=False)


@pytest.fixture(name="unreachable_here")
def fixture_unreachable_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(_store, _servers):
        raise recovery_prepare.StoreUnreachable(WHERE, "Could not connect to the endpoint URL")
    monkeypatch.setattr(recovery_prepare, "scan_from_control_node", unreachable)


def test_auto_reads_from_the_cluster_when_the_control_node_cannot_reach_the_store(
        unreachable_here, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(recovery_prepare, "scan_in_cluster", lambda *_a, **_k: (["scan"], "catalog-job-1"))
    scans, reader, warnings = recovery_prepare.read_scans(module(), ["pg-cluster-v1"])
    assert (scans, reader) == (["scan"], "cluster")
    assert warnings == [(f"cannot read the object store {WHERE}: the control node cannot reach it (Could not connect "
                         "to the endpoint URL). Check object_store.endpoint_url, the network, or read the catalog "
                         "from inside the cluster (catalog_job). The catalog is read from inside the cluster instead "
                         "(catalog_job).")]


def test_a_store_neither_reader_reaches_is_named_first_with_both_reasons(unreachable_here,
                                                                         monkeypatch: pytest.MonkeyPatch):
    def job_fails(*_args, **_kwargs):
        raise CollectionError("the backup catalog could not be read from inside the cluster: Job team-a/x could "
                              "not read the object store: EndpointConnectionError")
    monkeypatch.setattr(recovery_prepare, "scan_in_cluster", job_fails)
    with pytest.raises(CollectionError) as raised:
        recovery_prepare.read_scans(module(), ["pg-cluster-v1"])
    message = str(raised.value)
    assert message.startswith(f"cannot read the object store {WHERE}, neither from the control node (Could not "
                              "connect to the endpoint URL) nor from inside the cluster (the backup catalog could "
                              "not be read from inside the cluster: Job team-a/x"), message
    assert "Check object_store.endpoint_url, the network" in message


@pytest.mark.parametrize("catalog_from, job", [("control_node", True), ("auto", False)])
def test_an_explicit_reader_or_no_job_keeps_the_control_node_error(unreachable_here, monkeypatch, catalog_from, job):
    monkeypatch.setattr(recovery_prepare, "scan_in_cluster", lambda *_a, **_k: pytest.fail("no Job may run"))
    with pytest.raises(recovery_prepare.StoreUnreachable, match="the control node cannot reach it"):
        recovery_prepare.read_scans(module(catalog_from, job), ["pg-cluster-v1"])


@pytest.mark.parametrize("openssl_says, unreachable", [
    ("[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:1000)", True),
    ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate", False),
])
def test_a_handshake_cut_short_is_unreachable_and_a_refused_certificate_is_not(monkeypatch, openssl_says,
                                                                               unreachable):
    botocore_exceptions = pytest.importorskip("botocore.exceptions")

    def handshake_fails(*_args):
        raise botocore_exceptions.SSLError(endpoint_url=STORE["endpoint_url"], error=openssl_says)
    monkeypatch.setattr(recovery_prepare, "s3_client", lambda _store: object())
    monkeypatch.setattr(recovery_prepare, "scan_server", handshake_fails)
    with pytest.raises(CollectionError) as raised:
        recovery_prepare.scan_from_control_node(STORE, ["pg-cluster-v1"])
    assert isinstance(raised.value, recovery_prepare.StoreUnreachable) is unreachable
    expected = "the control node cannot reach it" if unreachable else "cannot verify the object store"
    assert expected in str(raised.value)
