"""What the API does with a request, independent of HTTP: the semantics of create, read, update, patch,
apply, delete and the `status`/`scale` subresources, the same for every kind.

The HTTP layer and the in-process controllers both go through here, so a controller's write is validated and
versioned exactly like a client's. What differs by kind is looked up at fixed points: defaulting (defaults.py),
validation beyond the schema (semantics.py) and the create/update/delete hooks (strategies.py).
"""

from __future__ import annotations

import copy
import datetime
import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..timestamps import format_time, now
from . import admission, defaults, errors, managed, patch as patches, semantics, validation
from .conform import Conformer
from .resources import Registry, ResourceType
from .schemas import root_node
from .selectors import field_selector, label_selector
from .store import Store
from .strategies import Strategies

NAMESPACE_KEY = ("", "namespaces")


@dataclass
class Options:
    """Per-request options from the query string."""

    dry_run: bool = False
    field_manager: str | None = None
    field_validation: str = "Warn"
    user_agent: str = ""
    force: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def manager(self) -> str:
        if self.field_manager:
            return self.field_manager
        # The API server's default: the user agent up to the first "/".
        return (self.user_agent or "unknown").split("/")[0][:128]


@dataclass
class DeleteOptions:
    propagation: str | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False
    grace_period: int | None = None  # gracePeriodSeconds; None: the kind's default


class Api:  # pylint: disable=too-many-public-methods  # one method per API verb
    def __init__(self, store: Store, registry: Registry):
        self.store = store
        self.registry = registry
        self.strategies = Strategies(store, registry)

    # --- reads ---------------------------------------------------------------------------------------------

    def get(self, resource: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(resource.key, namespace if resource.namespaced else "", name)
        if obj is None:
            raise errors.not_found(resource, name)
        return self._present(resource, obj)

    def list(self, resource: ResourceType, namespace: str | None, labels: str | None = None,
             fields: str | None = None) -> tuple[list[dict[str, Any]], int]:
        label_match = label_selector(labels)
        field_match = field_selector(fields, resource.kind)
        items, revision = self.store.list(resource.key, namespace if resource.namespaced else None)
        return [self._present(resource, obj) for obj in items if label_match(obj) and field_match(obj)], revision

    @staticmethod
    def _present(resource: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Objects are stored version-independently; answer with the version asked for."""
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        return obj

    # --- create --------------------------------------------------------------------------------------------

    def create(self, resource: ResourceType, namespace: str, body: dict[str, Any], options: Options) -> dict[str, Any]:
        body = self._check_identity(resource, namespace, body, None)
        admission.admit_create(self.store, resource, namespace, body)  # outside the lock: it may wait
        with self.store.lock:
            return self._create(resource, namespace, body, options, applied=False)

    def _create(self, resource: ResourceType, namespace: str, body: dict[str, Any], options: Options,
                applied: bool) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        if resource.namespaced:
            meta["namespace"] = namespace
            if self.store.get(NAMESPACE_KEY, "", namespace) is None:
                raise errors.ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                                      {"name": namespace, "kind": "namespaces"})
        else:
            meta.pop("namespace", None)
        checked = validation.validate(resource, body, options.field_validation)
        options.warnings.extend(checked.warnings)
        obj = defaults.apply(resource, checked.obj)
        name = obj["metadata"].get("name", "")
        if self.store.get(resource.key, namespace if resource.namespaced else "", name) is not None:
            raise errors.already_exists(resource, name)
        semantics.check(resource, obj, None)
        meta = obj["metadata"]
        for server_field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(server_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if resource.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if "status" in resource.subresources:
            # A create cannot set status through the main resource (only through /status afterwards).
            obj.pop("status", None)
        self.strategies.prepare_create(resource, obj)
        if not applied:
            managed.record_update(resource, None, obj, options.manager, "", now())
        if options.dry_run:
            obj["metadata"]["resourceVersion"] = ""
            return self._present(resource, obj)
        stored = self.store.put(resource.key, obj, "ADDED")
        self.strategies.after_write(resource, stored)
        return self._present(resource, stored)

    # --- update / patch / apply ---------------------------------------------------------------------------------

    def update(self, resource: ResourceType, namespace: str, name: str, body: dict[str, Any], options: Options,
               subresource: str = "") -> dict[str, Any]:
        body = self._check_identity(resource, namespace, body, name)
        with self.store.lock:
            old = self._existing(resource, namespace, name)
            wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(resource, name, "the object has been modified; please apply your changes "
                                                      "to the latest version and try again")
            return self._commit(resource, old, body, options, subresource)

    def patch(self, resource: ResourceType, namespace: str, name: str, patch_type: str, body: Any,
              options: Options, subresource: str = "") -> dict[str, Any]:
        with self.store.lock:
            if patch_type == "apply":
                return self._apply(resource, namespace, name, body, options, subresource)
            old = self._existing(resource, namespace, name)
            current = self._present(resource, copy.deepcopy(old))
            patched = self._patched(resource, current, patch_type, body)
            patched = self._check_identity(resource, namespace, patched, name)
            wanted_rv = (patched.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(resource, name, "the object has been modified; please apply your changes "
                                                      "to the latest version and try again")
            return self._commit(resource, old, patched, options, subresource)

    def _patched(self, resource: ResourceType, current: dict[str, Any], patch_type: str, body: Any) -> dict[str, Any]:
        try:
            if patch_type == "merge":
                return patches.merge_patch(current, body)
            if patch_type == "json":
                return patches.json_patch(current, body)
            if patch_type == "strategic":
                if resource.custom:
                    raise errors.unsupported_media_type(
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
                return patches.strategic_merge_patch(current, body, root_node(resource.schema_node()))
        except patches.PatchError as exc:
            raise errors.ApiError(422, "Invalid", str(exc)) from exc
        raise errors.unsupported_media_type(f"unsupported patch type {patch_type}")

    def _apply(self, resource: ResourceType, namespace: str, name: str, body: Any, options: Options,
               subresource: str) -> dict[str, Any]:
        if not options.field_manager:
            raise errors.bad_request("PATCH /apply requires fieldManager to be set (fieldManager is required for "
                                     "apply requests)")
        if not isinstance(body, dict):
            raise errors.bad_request("the apply configuration must be a YAML or JSON object")
        body = self._check_identity(resource, namespace, body, name)
        # Undeclared fields in the applied configuration are refused or dropped before they can be owned.
        conformer = Conformer(apply_defaults=False)
        applied = conformer.conform(root_node(resource.schema_node()), body)
        if conformer.unknown:
            if options.field_validation == "Strict":
                listed = ", ".join(f"{path}: field not declared in schema" for path in conformer.unknown)
                raise errors.bad_request(f"failed to create typed patch object ({resource.api_version}, "
                                         f"Kind={resource.kind}): {listed}")
            if options.field_validation != "Ignore":
                options.warnings.extend(f'unknown field "{path}"' for path in conformer.unknown)
        applied["metadata"] = body.get("metadata") or {}
        old = self.store.get(resource.key, namespace if resource.namespaced else "", name)
        if old is None:
            if subresource:
                raise errors.not_found(resource, name)
            merged = managed.apply(resource, None, applied, options.manager, options.force, "", now())
            admission.admit_create(self.store, resource, namespace, merged, may_wait=False)
            return self._create(resource, namespace, merged, options, applied=True)
        live = self._present(resource, old)
        merged = managed.apply(resource, live, applied, options.manager, options.force, subresource, now())
        return self._commit(resource, old, merged, options, subresource, applied=True)

    def _existing(self, resource: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        old = self.store.get(resource.key, namespace if resource.namespaced else "", name)
        if old is None:
            raise errors.not_found(resource, name)
        return self._present(resource, old)

    def _commit(self, resource: ResourceType, old: dict[str, Any], new: dict[str, Any], options: Options,
                subresource: str, applied: bool = False) -> dict[str, Any]:
        """Validate and store `new` as the next version of `old`."""
        new = copy.deepcopy(new)
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for server_field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                             "generation", "namespace"):
            if server_field in old_meta:
                meta[server_field] = old_meta[server_field]
            else:
                meta.pop(server_field, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if not applied:
            meta["managedFields"] = old_meta.get("managedFields", [])
        if subresource == "status":
            # Only status changes through /status.
            status = new.get("status")
            new = copy.deepcopy(old)
            new["metadata"]["managedFields"] = meta.get("managedFields", [])
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif "status" in resource.subresources:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        checked = validation.validate(resource, new, options.field_validation)
        options.warnings.extend(checked.warnings)
        obj = defaults.apply(resource, checked.obj)
        self.strategies.prepare_update(resource, obj, old)
        semantics.check(resource, obj, old)
        if resource.generation:
            body_changed = _spec_part(obj) != _spec_part(old)
            obj["metadata"]["generation"] = old_meta.get("generation", 1) + (1 if body_changed else 0)
        if not applied:
            managed.record_update(resource, old, obj, options.manager, subresource, now())
        if _same(obj, old):
            return old
        if options.dry_run:
            return self._present(resource, obj)
        if old_meta.get("finalizers") and not obj["metadata"].get("finalizers") and \
                old_meta.get("deletionTimestamp") and old_meta.get("deletionGracePeriodSeconds") == 0:
            # The last finalizer is gone from an object whose deletion is due: it completes (the generic
            # registry's shouldDeleteDuringUpdate; a Pod still in its grace period stays until deleted again).
            return self._finish_delete(resource, obj, "Background")
        stored = self.store.put(resource.key, obj, "MODIFIED")
        self.strategies.after_write(resource, stored)
        return self._present(resource, stored)

    def _check_identity(self, resource: ResourceType, namespace: str, body: Any, name: str | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of a {resource.kind} request must be a JSON object")
        body = copy.deepcopy(body)
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != resource.api_version:
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                                     f"version ({resource.api_version})")
        if kind and kind != resource.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind "
                                     f"({resource.kind})")
        body["apiVersion"], body["kind"] = resource.api_version, resource.kind
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if resource.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        if name is not None:
            if meta.get("name") and meta["name"] != name:
                raise errors.bad_request("the name of the object "
                                         f"({meta['name']}) does not match the name on the URL ({name})")
            meta["name"] = name
        return body

    # --- delete ------------------------------------------------------------------------------------------------

    def delete(self, resource: ResourceType, namespace: str, name: str, options: DeleteOptions) -> dict[str, Any]:
        with self.store.lock:
            obj = self._existing(resource, namespace, name)
            meta = obj["metadata"]
            if options.precondition_uid and options.precondition_uid != meta["uid"]:
                raise errors.conflict(resource, name, f"Precondition failed: UID in precondition: "
                                                      f"{options.precondition_uid}, UID in object meta: {meta['uid']}")
            if options.precondition_rv and options.precondition_rv != meta["resourceVersion"]:
                raise errors.conflict(resource, name, "Precondition failed: ResourceVersion in precondition: "
                                                      f"{options.precondition_rv}, ResourceVersion in object meta: "
                                                      f"{meta['resourceVersion']}")
            propagation = options.propagation or resource.default_propagation
            grace = self.strategies.grace_period(resource, obj, options.grace_period)
            if options.dry_run:
                return obj
            if grace > 0 or meta.get("finalizers"):
                # Marked, not removed: a Pod's grace period (its kubelet deletes it again with 0 once its
                # containers stopped) or finalizers. A shorter period may replace a pending longer one.
                pending = meta.get("deletionGracePeriodSeconds")
                if meta.get("deletionTimestamp") and (pending is None or grace >= pending):
                    return obj
                if not meta.get("deletionTimestamp") and resource.generation:
                    meta["generation"] = meta.get("generation", 1) + 1
                moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=grace)
                meta["deletionTimestamp"] = format_time(moment)
                meta["deletionGracePeriodSeconds"] = grace
                return self._present(resource, self.store.put(resource.key, obj, "MODIFIED"))
            return self._finish_delete(resource, obj, propagation)

    def _finish_delete(self, resource: ResourceType, obj: dict[str, Any], propagation: str) -> dict[str, Any]:
        meta = obj["metadata"]
        for contained, item in self.strategies.deleted_with(resource, obj):
            self._finish_delete(contained, item, "Background")
        if propagation == "Foreground":
            self._collect_dependents(meta["uid"], "Background")
        removed = self.store.remove(resource.key, meta.get("namespace", "") if resource.namespaced else "",
                                    meta["name"])
        self.strategies.after_delete(resource, obj)
        if propagation != "Foreground":
            self._collect_dependents(meta["uid"], propagation)
        gone = removed or obj
        gone["metadata"].setdefault("deletionTimestamp", now())
        return self._present(resource, gone)

    def _collect_dependents(self, owner_uid: str, propagation: str) -> None:
        """Garbage-collect (or orphan) the objects whose ownerReferences name `owner_uid`."""
        live_uids = None
        for key, obj in self.store.owned_by(owner_uid):
            refs = obj["metadata"]["ownerReferences"]
            dependent = self.registry.by_key(key)
            if propagation == "Orphan":
                obj["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != owner_uid]
                if not obj["metadata"]["ownerReferences"]:
                    del obj["metadata"]["ownerReferences"]
                self.store.put(key, obj, "MODIFIED")
                continue
            if live_uids is None:
                live_uids = self.store.uids()
            if any(ref.get("uid") in live_uids for ref in refs if ref.get("uid") != owner_uid):
                continue
            current = self.store.get(key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if current is not None:
                self._finish_delete(dependent, current, "Background")

    def delete_collection(self, resource: ResourceType, namespace: str | None, labels: str | None,
                          fields: str | None, options: DeleteOptions) -> list[dict[str, Any]]:
        with self.store.lock:
            items, _ = self.list(resource, namespace, labels, fields)
            return [self.delete(resource, item["metadata"].get("namespace", ""), item["metadata"]["name"], options)
                    for item in items]

    # --- scale -------------------------------------------------------------------------------------------------

    def get_scale(self, resource: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self._existing(resource, namespace, name)
        return self._scale_of(resource, obj)

    def _scale_of(self, resource: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        paths = resource.scale
        meta = obj["metadata"]
        spec_replicas = _dig(obj, paths.spec_replicas)
        status: dict[str, Any] = {"replicas": _dig(obj, paths.status_replicas) or 0}
        selector = self.strategies.scale_selector(resource, obj)
        if selector is None and paths.label_selector:
            selector = _dig(obj, paths.label_selector) or None
        if selector is not None:
            status["selector"] = selector
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": spec_replicas or 0} if spec_replicas is not None else {}, "status": status}

    def update_scale(self, resource: ResourceType, namespace: str, name: str, body: Any, options: Options,
                     patch_type: str | None = None) -> dict[str, Any]:
        with self.store.lock:
            obj = self._existing(resource, namespace, name)
            scale = self._scale_of(resource, obj)
            if patch_type is None:
                wanted = body
            elif patch_type == "merge":
                wanted = patches.merge_patch(scale, body)
            elif patch_type == "json":
                wanted = patches.json_patch(scale, body)
            elif patch_type == "strategic":
                wanted = patches.strategic_merge_patch(scale, body, None)
            else:
                raise errors.unsupported_media_type(f"{patch_type} patches are not supported on /scale")
            replicas = ((wanted or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid(resource, name, [{"field": "spec.replicas", "reason": "FieldValueInvalid",
                                                       "message": f"Invalid value: {replicas}: must be greater "
                                                                  "than or equal to 0"}])
            wanted_rv = ((wanted or {}).get("metadata") or {}).get("resourceVersion")
            if patch_type is None and wanted_rv and wanted_rv != obj["metadata"]["resourceVersion"]:
                raise errors.conflict(resource, name, "the object has been modified; please apply your changes "
                                                      "to the latest version and try again")
            updated = copy.deepcopy(obj)
            _set(updated, resource.scale.spec_replicas, replicas)
            stored = self._commit(resource, obj, updated, options, "scale")
            return self._scale_of(resource, stored)


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _without_times(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for entry in obj.get("metadata", {}).get("managedFields") or []:
        entry.pop("time", None)
    obj.get("metadata", {}).pop("resourceVersion", None)
    return obj


def _same(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """A write that changes nothing but timestamps is a no-op: no new resourceVersion, no event."""
    return _without_times(new) == _without_times(old)


def _dig(obj: dict[str, Any], dotted: str) -> Any:
    value: Any = obj
    for part in dotted.strip(".").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _set(obj: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.strip(".").split(".")
    cursor = obj
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = value
