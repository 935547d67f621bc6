"""The API as a controller sees it: the same validation, versioning and watch events as any HTTP client."""

from __future__ import annotations

from typing import Any

from ..apiserver import errors
from ..apiserver.operations import Api, DeleteOptions, Options
from ..apiserver.resources import ResourceType


class Client:
    """Reads and writes on behalf of one controller (its name is the field manager of its writes)."""

    def __init__(self, api: Api, manager: str):
        self.api = api
        self.manager = manager

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
        except errors.ApiError as error:
            if error.code == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str | None = None,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        return self.api.list(self.resource(api_version, kind), namespace, label_selector)[0]

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        resource = self.resource(obj["apiVersion"], obj["kind"])
        return self.api.create(resource, obj["metadata"].get("namespace", ""), obj, self._options())

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

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        try:
            self.api.delete(self.resource(api_version, kind), namespace, name, DeleteOptions())
        except errors.ApiError as error:
            if error.code != 404:
                raise
