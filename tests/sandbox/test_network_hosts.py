"""The sandbox's hosts files under concurrent controllers: every Route host and Service name that is set stays in
the files. Controllers run in threads and each change rewrites the files from a snapshot; two rewrites interleaved
once left the older snapshot on disk last, and a drill's Route host did not resolve on the control node
("Name or service not known") although its Route existed. A real cluster's DNS and router answer for every
admitted Route at once (OpenShift router: a Route is served once admitted), so the double must not lose one."""

from __future__ import annotations

import threading

import pytest

from sandbox.runtime.network import Network


@pytest.fixture(name="network")
def _network(tmp_path):
    network = Network(tmp_path)
    yield network
    network.release()


def test_concurrent_route_and_service_changes_all_reach_the_hosts_files(network):
    start = threading.Barrier(24)

    def route(index):
        start.wait()
        network.set_route_host("ns", f"r{index}", f"r{index}-ns.apps.sandbox.local", f"127.1.192.{index + 2}")

    def service(index):
        start.wait()
        network.set_service("ns", f"s{index}", f"127.1.0.{index + 2}")

    threads = [threading.Thread(target=route, args=(i,)) for i in range(12)]
    threads += [threading.Thread(target=service, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    outside = network.hosts_file.read_text()
    inside = network.namespace_hosts("ns").read_text()
    for index in range(12):
        assert f"127.1.192.{index + 2} r{index}-ns.apps.sandbox.local" in outside
        assert f"r{index}-ns.apps.sandbox.local" in inside
        assert f"127.1.0.{index + 2} s{index}.ns.svc.cluster.local" in inside
    # The control node is outside the cluster: no Service name resolves there.
    assert ".svc" not in outside
    assert not list(network.root.glob(".*.tmp")) and not list(network.namespace_dir.glob(".*.tmp"))
