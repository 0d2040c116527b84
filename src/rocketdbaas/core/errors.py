"""RFC 9457 problem details for every API error."""

from typing import Any

from django.http import JsonResponse

PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
    500: "Internal server error",
}


class ProblemError(Exception):
    """Raised by services and handlers; rendered as application/problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.errors = errors
        self.extra = extra


class NotFound(ProblemError):
    def __init__(self, detail: str, **extra: Any):
        super().__init__(404, detail, **extra)


class Conflict(ProblemError):
    def __init__(self, detail: str, **extra: Any):
        super().__init__(409, detail, **extra)


class Invalid(ProblemError):
    """A 422 for one or more field problems: errors=[{"field": ..., "message": ...}]."""

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None, **extra: Any):
        super().__init__(422, detail, errors=errors, **extra)


class Forbidden(ProblemError):
    def __init__(self, detail: str = "You are not allowed to do this.", **extra: Any):
        super().__init__(403, detail, **extra)


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JsonResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
