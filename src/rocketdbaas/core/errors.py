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

    headers: dict[str, str] = {}


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


class Unauthenticated(ProblemError):
    """A 401 that says what is wrong with the credentials, with the challenge RFC 6750 asks for."""

    def __init__(self, detail: str, *, invalid_token: bool = True, **extra: Any):
        super().__init__(401, detail, **extra)
        # A bare challenge when no credentials came; invalid_token when the token itself is bad.
        self.headers = {"WWW-Authenticate": 'Bearer error="invalid_token"' if invalid_token else "Bearer"}


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


class ApiProblemMiddleware:
    """An /api/ path that matches no route (404) or a method a route does not serve (405)
    answers a problem detail, like every other API error: Django's resolver answers the first
    with its HTML page and the router the second with an empty text response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code not in (404, 405)
            or not request.path_info.startswith("/api/")
            or response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)
        ):
            return response
        if response.status_code == 404:
            return problem_response(404, "No API route matches this path.", instance=request.path)
        allowed = response.get("Allow", "")
        return problem_response(
            405,
            f"{request.method} is not allowed on this path; allowed: {allowed or 'none'}.",
            instance=request.path,
            headers={"Allow": allowed} if allowed else None,
        )
