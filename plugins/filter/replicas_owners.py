# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: replicas_owners
short_description: Who else sets a Deployment's replica count that Helm applies server-side
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Reads the Deployment's C(metadata.managedFields) and names the field managers, other than the ones that apply it
    server-side, that own C(spec.replicas) - typically C(kubectl) or C(oc) through the C(scale) subresource, after a
    person ran C(kubectl scale deployment/mlflow --replicas=N) (the manual runbook's way to start MLflow again).
  - Helm 4 applies a release server-side. A server-side apply that changes a field another manager owns fails with
    a conflict (Kubernetes' Server-Side Apply, "Conflicts"), so the release that stops or starts MLflow would fail;
    with C(--force-conflicts) (C(force_conflicts) of C(kubernetes.core.helm)) the release takes the field back.
  - Empty when nobody applies the Deployment server-side (Helm 3, or a release Helm 4 keeps on client-side apply).
    Such a release overwrites the count without a conflict, and C(--force-conflicts) would be refused.
options:
  _input:
    description:
      - The Deployment (an C(apps/v1) object as C(kubernetes.core.k8s_info) returns it, with its managed fields).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Read the MLflow Deployment
  kubernetes.core.k8s_info:
    kind: Deployment
    name: mlflow
    namespace: mlflow
  register: deployment

- name: Stop MLflow through the release, taking the replica count back from a manual kubectl scale
  kubernetes.core.helm:
    name: mlflow
    chart_ref: charts/mlflow
    release_namespace: mlflow
    release_values:
      mlflow:
        replicas: 0
    force_conflicts: "{{ (deployment.resources | first | mlops.mlflow.replicas_owners) | length > 0 }}"
"""

RETURN = r"""
_value:
  description:
    - One entry per other owner of C(spec.replicas), as C(<manager> (<operation>)) or
      C(<manager> (<operation> through /<subresource>)), sorted; empty when there is none or nothing applies the
      Deployment server-side.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def replicas_owners(deployment):
    if not isinstance(deployment, Mapping):
        raise AnsibleFilterError("replicas_owners: expected a Deployment object, got %r" % type(deployment).__name__)
    entries = [entry for entry in (deployment.get("metadata") or {}).get("managedFields") or []
               if isinstance(entry, Mapping)]
    # A manager's field set is keyed by its name and operation: "helm" applying and "helm" updating are two owners.
    appliers = {entry.get("manager") for entry in entries if entry.get("operation") == "Apply"}
    if not appliers:
        return []
    owners = set()
    for entry in entries:
        if entry.get("operation") == "Apply" and entry.get("manager") in appliers:
            continue
        if "f:replicas" not in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            continue
        through = " through /%s" % entry["subresource"] if entry.get("subresource") else ""
        owners.add("%s (%s%s)" % (entry.get("manager") or "?", entry.get("operation") or "?", through))
    return sorted(owners)


class FilterModule:
    def filters(self):
        return {"replicas_owners": replicas_owners}
