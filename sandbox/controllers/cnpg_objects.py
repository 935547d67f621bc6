"""What the CNPG operator creates beside every Cluster, owned by it: the `-rw`, `-ro` and `-r` Services and the
`<cluster>-app` basic-auth Secret. The stand-in and the real Cluster controller both create them through here, so
that a flow sees the same objects whichever runs."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from .util import owner_ref

# The selectors of CNPG's Services (pkg/specs/services.go): -rw the primary, -ro the replicas, -r every instance.
_SERVICE_ROLES = {"rw": "primary", "ro": "replica", "r": None}


def ensure_services(client: Any, cluster: dict[str, Any]) -> None:
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    for suffix, role in _SERVICE_ROLES.items():
        if client.get("v1", "Service", namespace, f"{name}-{suffix}") is not None:
            continue
        selector = {"cnpg.io/cluster": name}
        if role:
            selector["cnpg.io/instanceRole"] = role
        else:
            selector["cnpg.io/podRole"] = "instance"
        client.create({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"{name}-{suffix}", "namespace": namespace, "labels": {"cnpg.io/cluster": name},
                         "ownerReferences": [owner_ref(cluster)]},
            "spec": {"selector": selector, "ports": [{"name": "postgres", "port": 5432, "targetPort": 5432}]},
        })


def ensure_app_secret(client: Any, cluster: dict[str, Any]) -> None:
    """`<cluster>-app` with a new random password, unless the bootstrap names the owner's secret."""
    bootstrap = (cluster.get("spec") or {}).get("bootstrap") or {}
    method = bootstrap.get("recovery") or bootstrap.get("initdb") or {}
    if method.get("secret"):
        return  # the user supplies the owner's credentials
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    if client.get("v1", "Secret", namespace, f"{name}-app") is not None:
        return
    database = method.get("database", "app")
    owner = method.get("owner", database)
    password = secrets.token_urlsafe(24)
    host = f"{name}-rw"
    uri = f"postgresql://{owner}:{password}@{host}.{namespace}:5432/{database}"
    data = {"username": owner, "user": owner, "password": password, "dbname": database, "host": host,
            "port": "5432", "uri": uri, "pgpass": f"{host}:5432:{database}:{owner}:{password}\n",
            "jdbc-uri": f"jdbc:postgresql://{host}.{namespace}:5432/{database}?password={password}&user={owner}",
            "fqdn-uri": f"postgresql://{owner}:{password}@{host}.{namespace}.svc.cluster.local:5432/{database}"}
    client.create({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": f"{name}-app", "namespace": namespace,
                     "labels": {"cnpg.io/cluster": name, "cnpg.io/reload": "true"},
                     "ownerReferences": [owner_ref(cluster)]},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    })
