"""The cluster the live scenarios run against, as a person with a cluster describes it (docs/live-testing.md).

A target file names an inventory and one installation (host) of it whose variables derive from
`mlflow_namespace`, an identity that may create namespaces and run playbooks/rbac.yml, and how this machine reaches
the object store. Nothing else is known about the cluster: the scenarios see it through the Kubernetes API, the
installation's URL, the object store and the playbooks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PLATFORMS = ("kubernetes", "openshift")


class TargetError(ValueError):
    """The target file is not what docs/live-testing.md describes."""


@dataclass(frozen=True)
class Target:
    inventory: Path
    installation: str
    kubeconfig: Path
    context: str | None
    platform: str
    deploy_version: str
    next_version: str
    schema_change_version: str | None  # between deploy and next, with a migration; None: that scenario is skipped
    s3_endpoint: str | None  # None: the endpoint the inventory's values give
    s3_ca_bundle: str | None
    namespace_prefix: str = "mlflow-live"
    hosts_file: Path | None = None  # names this machine's resolver does not know (a local cluster's apps domain)
    environment: dict[str, str] = field(default_factory=dict)  # for the playbooks: PATH with helm, a resolver
    source: Path | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Target:
        path = Path(path).expanduser().resolve()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise TargetError(f"cannot read the live target {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise TargetError(f"{path}: a live target is a mapping (docs/live-testing.md)")
        return cls.from_mapping(data, base=path.parent, source=path)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], base: Path, source: Path | None = None) -> Target:
        def required(key: str) -> Any:
            if data.get(key) in (None, ""):
                raise TargetError(f"{source or 'the live target'}: '{key}' is required (docs/live-testing.md)")
            return data[key]

        def local(value: str | None) -> Path | None:
            return (base / Path(value).expanduser()).resolve() if value else None

        platform = data.get("platform", "kubernetes")
        if platform not in PLATFORMS:
            raise TargetError(f"platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
        versions = required("versions")
        s3 = data.get("s3") or {}
        unknown = set(data) - {"inventory", "installation", "kubeconfig", "context", "platform", "versions", "s3",
                               "namespace_prefix", "hosts_file", "environment"}
        if unknown:
            raise TargetError(f"unknown keys in the live target: {', '.join(sorted(unknown))}")
        target = cls(
            inventory=local(required("inventory")), installation=str(required("installation")),
            kubeconfig=local(data.get("kubeconfig") or os.environ.get("KUBECONFIG") or "~/.kube/config"),
            context=data.get("context"), platform=platform,
            deploy_version=str(versions.get("deploy") or ""), next_version=str(versions.get("next") or ""),
            schema_change_version=str(versions["schema_change"]) if versions.get("schema_change") else None,
            s3_endpoint=s3.get("endpoint"), s3_ca_bundle=str(local(s3["ca_bundle"])) if s3.get("ca_bundle") else None,
            namespace_prefix=data.get("namespace_prefix", "mlflow-live"), hosts_file=local(data.get("hosts_file")),
            environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()}, source=source)
        if not (target.deploy_version and target.next_version):
            raise TargetError("versions.deploy and versions.next are required: the version the inventory deploys "
                              "and a later one without a schema change from the one before it")
        for what, file in (("inventory", target.inventory), ("kubeconfig", target.kubeconfig)):
            if not file.exists():
                raise TargetError(f"the {what} {file} does not exist")
        return target
