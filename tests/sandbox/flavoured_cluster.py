"""A sandbox standing for a plain Kubernetes cluster (`python -m sandbox up --flavour kubernetes`): no OpenShift API
group is served, and Ingress hosts are routed instead of Routes (docs/sandbox.md, "Cluster flavours")."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from tests.sandbox.cluster import SandboxCluster

# The OpenShift groups an OpenShift cluster serves and a vanilla (kind, kubeadm) one does not.
OPENSHIFT_GROUPS = ("route.openshift.io", "build.openshift.io", "image.openshift.io", "template.openshift.io",
                    "project.openshift.io")


@dataclass
class FlavouredCluster(SandboxCluster):
    flavour: str = "kubernetes"

    def sandbox(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        if args and args[0] == "up":
            args = (*args, "--flavour", self.flavour)
        return super().sandbox(*args, check=check)
