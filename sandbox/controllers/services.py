"""Services and Routes on loopback.

A Service gets the address 127.96.A.B (from its cluster IP 10.96.A.B), its names in the hosts files, and one TCP
proxy per port that forwards each connection to a ready Pod matching its selector (round-robin, at the pod's
address and target port). A Route gets its own address (127.80.x.y) with its host in the hosts files and a plain
HTTP proxy on port 80 to its Service's ready pods: `http://<route host>/` reaches the application.
"""

from __future__ import annotations

import logging
from typing import Any

from ..runtime.podspec import ConfigError, port_number
from .base import Controller, condition
from .util import pod_ready, selector_string, write_status

LOG = logging.getLogger(__name__)
ROUTE_PORT = 80
DEFAULT_ROUTE_DOMAIN = "apps.sandbox.local"


def ready_endpoints(client: Any, namespace: str, selector: dict[str, str], target: Any):
    """A function listing (pod address, port) of the ready pods that `selector` picks, evaluated per connection."""
    query = selector_string({"matchLabels": selector})

    def endpoints() -> list[tuple[str, int]]:
        found = []
        for pod in client.list("v1", "Pod", namespace, query):
            address = (pod.get("status") or {}).get("podIP")
            if not address or not pod_ready(pod):
                continue
            try:
                found.append((address, port_number(pod, target)))
            except ConfigError:
                continue
        return found
    return endpoints


class ServiceController(Controller):
    name = "service-proxy"
    kind = ("v1", "Service")

    def reconcile(self, obj, namespace, name):
        owner = ("Service", namespace, name)
        runtime = self.runtime
        if obj is None:
            runtime.proxies.drop(owner)
            runtime.network.set_service(namespace, name, None)
            return None
        spec = obj.get("spec") or {}
        cluster_ip = spec.get("clusterIP", "")
        if spec.get("type") == "ExternalName" or not cluster_ip or cluster_ip == "None":
            return None
        address = runtime.network.service_address(cluster_ip)
        wanted = {}
        if spec.get("selector"):
            for port in spec.get("ports") or []:
                target = port.get("targetPort", port["port"])
                wanted[(address, port["port"])] = ready_endpoints(self.client, namespace, spec["selector"], target)
        for problem in runtime.proxies.ensure(owner, wanted):
            LOG.error("service %s/%s: %s", namespace, name, problem)
        runtime.network.set_service(namespace, name, address)
        return None


class RouteController(Controller):
    name = "openshift-router"
    kind = ("route.openshift.io/v1", "Route")

    def reconcile(self, obj, namespace, name):
        owner = ("Route", namespace, name)
        runtime = self.runtime
        if obj is None:
            runtime.proxies.drop(owner)
            runtime.network.set_route_host(namespace, name, None, None)
            return None
        spec = obj.get("spec") or {}
        host = spec.get("host") or f"{name}-{namespace}.{DEFAULT_ROUTE_DOMAIN}"
        address = runtime.network.route_address(obj["metadata"]["uid"])
        service = self.client.get("v1", "Service", namespace, (spec.get("to") or {}).get("name", ""))
        problems = []
        wanted = {}
        if service is not None and (service.get("spec") or {}).get("selector"):
            ports = (service.get("spec") or {}).get("ports") or []
            wanted_port = (spec.get("port") or {}).get("targetPort")
            chosen = next((p for p in ports if wanted_port in (p.get("name"), p.get("targetPort"), p.get("port"))),
                          ports[0] if ports else None)
            if chosen is not None:
                target = chosen.get("targetPort", chosen["port"])
                wanted[(address, ROUTE_PORT)] = ready_endpoints(self.client, namespace,
                                                                service["spec"]["selector"], target)
        problems = runtime.proxies.ensure(owner, wanted)
        runtime.network.set_route_host(namespace, name, host, address)
        old = obj.get("status") or {}
        earlier = (old.get("ingress") or [{}])[0].get("conditions")
        admitted = condition("Admitted", not problems, "" if not problems else "HostAlreadyClaimed",
                             "; ".join(problems), previous=earlier)
        status = {"ingress": [{"host": host, "routerName": "default", "wildcardPolicy": "None",
                               "routerCanonicalHostname": f"router-default.{DEFAULT_ROUTE_DOMAIN}",
                               "conditions": [admitted]}]}
        write_status(self.client, obj, status)
        # The Service may appear after the Route: look again until it is wired.
        return None if wanted else 5.0
