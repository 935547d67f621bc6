"""The API as a controller sees it: the same validation, versioning and watch events as any HTTP client.

This is the controllers' only door into the API server (tests/unit/test_layers.py checks it): they read, write,
watch and call verb subresources here, as a real controller does through client-go, and catch its `ApiError`;
they never reach into the store or an endpoint's implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# ApiError: what controllers catch (404, 409), as client-go's apierrors.
from ..apiserver.authn import controller_identity
from ..apiserver.errors import ApiError
from ..apiserver.openshift import Extensions
from ..apiserver.operations import Api, DeleteOptions, Options
from ..apiserver.resources import ResourceType

Kind = tuple[str, str]  # (apiVersion, kind)


class Client:
    """Reads and writes on behalf of one controller (its name is the field manager of its writes).

    The controller acts as an internal identity in `system:masters` (`identity`, authn.controller_identity): what
    the operator or kube-controller-manager may do on a cluster, it may do here, so authorization (which would
    allow every call) is not evaluated; validation, defaulting, versioning and watch events are the same as over
    HTTP."""

    def __init__(self, api: Api, manager: str):
        self.api = api
        self.manager = manager
        self.identity = controller_identity(manager)
        self._extensions = Extensions()

    def resource(self, api_version: str, kind: str) -> ResourceType:
        found = self.api.registry.by_kind(api_version, kind)
        if found is None:
            raise LookupError(f"{api_version}/{kind} is not served")
        return found

    def _options(self) -> Options:
        return Options(field_manager=self.manager, user_agent=f"{self.manager}/sandbox")

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.api.get(self.resource(api_version, kind), namespace, name)
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        return self.api.list(self.resource(api_version, kind), namespace, label_selector)[0]

    def create(self, obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
        """Create `obj`; with `dry_run`, only ask whether the API server would (`dryRun=All`: admitted, validated,
        nothing stored)."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        options = self._options()
        options.dry_run = dry_run
        return self.api.create(resource, obj["metadata"].get("namespace", ""), obj, options)

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        return self.api.update(resource, meta.get("namespace", ""), meta["name"], obj, self._options())

    def update_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Replace the object's status (through the `status` subresource when the kind has one)."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        subresource = "status" if "status" in resource.subresources else ""
        return self.api.update(resource, meta.get("namespace", ""), meta["name"], dict(obj, status=status),
                               self._options(), subresource)

    def delete(self, api_version: str, kind: str, namespace: str, name: str, grace_period: int | None = None,
               uid: str | None = None) -> None:
        """Delete (a Pod of the node: gracefully, unless `grace_period` is 0); gone already, or another object of
        that name than `uid`, is not an error."""
        try:
            self.api.delete(self.resource(api_version, kind), namespace, name,
                            DeleteOptions(precondition_uid=uid, grace_period=grace_period))
        except ApiError as error:
            if error.code == 409 and uid is not None:
                return
            if error.code != 404:
                raise

    def post(self, api_version: str, kind: str, namespace: str, name: str, subresource: str,
             body: dict[str, Any]) -> dict[str, Any]:
        """POST to a subresource that is a verb, e.g. `buildconfigs/<name>/instantiate` (as `oc start-build`)."""
        resource = self.resource(api_version, kind)
        endpoint = self._extensions.endpoint("POST", resource.group, resource.version, resource.plural, subresource)
        if endpoint is None:
            raise LookupError(f"POST {resource.plural}/{subresource} is not served")
        return endpoint(self.api, namespace, name, body, self._options())[1]

    def watch(self, kinds: Iterable[Kind], handler: Callable[[Kind, dict[str, Any]], None]) -> None:
        """Call `handler(kind, obj)` for every stored object of `kinds`, then for every change to one (an
        informer's list-then-watch, with nothing missed in between). The handler runs in the writer's thread,
        while the write holds the store: it must be quick (e.g. queue a key)."""
        by_key: dict[tuple[str, str], list[Kind]] = {}
        for kind in kinds:
            by_key.setdefault(self.resource(*kind).key, []).append(kind)

        def deliver(key: tuple[str, str], obj: dict[str, Any]) -> None:
            for kind in by_key.get(key, ()):
                handler(kind, obj)

        store = self.api.store
        with store.lock:
            store.subscribe(lambda event: deliver(event.key, event.obj))
            for key, obj in store.all_objects():
                deliver(key, obj)
