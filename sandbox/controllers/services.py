"""Services and Routes on loopback.

A Service gets the address 127.96.A.B (from its cluster IP 10.96.A.B), its names in the hosts files, and one TCP
proxy per port that forwards each connection to a ready Pod matching its selector (round-robin, at the pod's
address and target port). A Route gets its own address (127.80.x.y) with its host in the hosts files and a plain
HTTP proxy on port 80 to its Service's ready pods: `http://<route host>/` reaches the application.

On a plain Kubernetes cluster (`--flavour kubernetes`) an ingress controller does the same for Ingresses: each
networking.k8s.io/v1 Ingress gets an address with its rules' hosts in the hosts files and a proxy on port 80 to
the Service port its backend names, and, as ingress-nginx publishes its own address (`--publish-service`), the
Ingress's status.loadBalancer.ingress names that address. Like the router here, it speaks plain HTTP (TLS is not
terminated) and forwards by address, not by Host header: one backend per Ingress (the first rule's first path,
else spec.defaultBackend).
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


def _service_target(service: dict[str, Any], port: dict[str, Any]) -> Any:
    """The target port behind the Service port an Ingress backend names (`number` or `name`), or None."""
    for candidate in (service.get("spec") or {}).get("ports") or []:
        named = port.get("name") and port.get("name") == candidate.get("name")
        if named or port.get("number") == candidate.get("port"):
            return candidate.get("targetPort", candidate["port"])
    return None


class IngressController(Controller):
    name = "ingress-controller"
    kind = ("networking.k8s.io/v1", "Ingress")

    def reconcile(self, obj, namespace, name):
        owner = ("Ingress", namespace, name)
        key = f"ingress/{name}"  # apart from a Route of the same name in the hosts table
        runtime = self.runtime
        if obj is None:
            runtime.proxies.drop(owner)
            runtime.network.set_route_host(namespace, key, None, None)
            return None
        spec = obj.get("spec") or {}
        rules = [rule for rule in spec.get("rules") or [] if rule.get("host")]
        paths = [path for rule in rules for path in (rule.get("http") or {}).get("paths") or []]
        backend = ((paths[0] if paths else {}).get("backend") or spec.get("defaultBackend") or {}).get("service") or {}
        address = runtime.network.route_address(obj["metadata"]["uid"])
        service = self.client.get("v1", "Service", namespace, backend.get("name", "")) if backend else None
        wanted = {}
        if service is not None and (service.get("spec") or {}).get("selector"):
            target = _service_target(service, backend.get("port") or {})
            if target is not None:
                wanted[(address, ROUTE_PORT)] = ready_endpoints(self.client, namespace,
                                                                service["spec"]["selector"], target)
        for problem in runtime.proxies.ensure(owner, wanted):
            LOG.error("ingress %s/%s: %s", namespace, name, problem)
        # The hosts file has one line per key: the first rule's host (the chart's Ingress has one).
        runtime.network.set_route_host(namespace, key, rules[0]["host"] if rules else None, address)
        if wanted:
            write_status(self.client, obj, {"loadBalancer": {"ingress": [{"ip": address}]}})
        # The Service may appear after the Ingress: look again until it is wired.
        return None if wanted else 5.0
