"""Admission of Pod creates: what kube-apiserver's ServiceAccount admission plugin
(plugin/pkg/admission/serviceaccount/admission.go) does, for every client alike (kubectl, Helm, the controllers).

- a Pod without `spec.serviceAccountName` gets `default` (and the deprecated `spec.serviceAccount`, which the v1
  conversion fills from it, pkg/apis/core/v1/conversion.go);
- the account must exist in the Pod's namespace, else the create is a 403:
  `pods "<name>" is forbidden: error looking up service account <ns>/<sa>: serviceaccount "<sa>" not found`
  (`<name>` is the `generateName` prefix when the name is still to be generated: admission runs before that,
  admission.NewForbidden/extractResourceName). For `default`, which the serviceaccount controller creates a
  moment after its namespace, the plugin looks 10 times, 100-200 ms apart, before refusing (getServiceAccount).

Not reproduced: the projected token volume (`kube-api-access-*`) the plugin mounts, the account's
imagePullSecrets, `kubernetes.io/enforce-mountable-secrets`, mirror pods.
"""

from __future__ import annotations

import random
import time
from typing import Any

from . import errors
from .resources import ResourceType
from .store import Store

DEFAULT_ACCOUNT = "default"
_DEFAULT_LOOKUPS = 10  # getServiceAccount's attempts for `default`


def _is_pod(resource: ResourceType) -> bool:
    return resource.group == "" and resource.kind == "Pod"


def _account_exists(store: Store, namespace: str, name: str) -> bool:
    return store.get(("", "serviceaccounts"), namespace, name) is not None


def admit_create(store: Store, resource: ResourceType, namespace: str, obj: dict[str, Any],
                 may_wait: bool = True) -> None:
    """Admit (or refuse with a 403) the creation of `obj`. Call it before the object's name is generated; with
    `may_wait`, without holding the store's lock (the lookups for `default` wait for its controller)."""
    if not _is_pod(resource) or store.get(("", "namespaces"), "", namespace) is None:
        return  # a missing namespace is NamespaceLifecycle's 404, which comes first
    spec = obj.setdefault("spec", {})
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_ACCOUNT
    spec["serviceAccountName"] = spec["serviceAccount"] = account
    lookups = _DEFAULT_LOOKUPS if account == DEFAULT_ACCOUNT and may_wait else 1
    for attempt in range(lookups):
        if attempt:
            time.sleep(random.uniform(0.1, 0.2))
        if _account_exists(store, namespace, account):
            return
    meta = obj.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or "Unknown"
    raise errors.ApiError(403, "Forbidden", f'pods "{name}" is forbidden: error looking up service account '
                                            f'{namespace}/{account}: serviceaccount "{account}" not found',
                          {"name": name, "kind": "pods"})
