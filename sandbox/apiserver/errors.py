"""API errors, answered as `Status` objects with the reasons and codes a real API server uses."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the API answers with a `Status` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def _details(resource, name: str | None, **extra) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    if name:
        details["name"] = name
    details.update(extra)
    return details


def not_found(resource, name: str) -> ApiError:
    group = f".{resource.group}" if resource.group else ""
    return ApiError(404, "NotFound", f'{resource.plural}{group} "{name}" not found', _details(resource, name))


def already_exists(resource, name: str) -> ApiError:
    group = f".{resource.group}" if resource.group else ""
    return ApiError(409, "AlreadyExists", f'{resource.plural}{group} "{name}" already exists',
                    _details(resource, name))


def conflict(resource, name: str, why: str) -> ApiError:
    group = f".{resource.group}" if resource.group else ""
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource.plural}{group} "{name}": {why}',
                    _details(resource, name))


def invalid(resource, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid: `causes` are {field, reason, message} as the API reports them."""
    summary = ", ".join(f"{cause['field']}: {cause['message']}" if cause.get("field") else cause["message"]
                        for cause in causes)
    details = {"name": name, "kind": resource.kind, "causes": causes}
    if resource.group:
        details["group"] = resource.group
    message = f'{resource.qualified} "{name}" is invalid: '
    message += f"[{summary}]" if len(causes) > 1 else summary
    return ApiError(422, "Invalid", message, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def not_implemented(message: str) -> ApiError:
    return ApiError(501, "NotImplemented", f"the sandbox API server does not implement this: {message}")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
