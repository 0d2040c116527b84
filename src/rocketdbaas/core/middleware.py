import logging
import re
import uuid
from contextvars import ContextVar

from rocketdbaas.core.errors import PROBLEM_CONTENT_TYPE, problem_response

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return request_id_var.get()


class RequestIdMiddleware:
    """Tags every request (and its log lines and audit rows) with an id, echoed in X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


class ApiSlashMiddleware:
    """API paths answer with and without a trailing slash, with no redirect.

    A redirected POST loses its body, so the slash is dropped before URL resolution
    and every API route is declared without one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith("/api/") and path.endswith("/") and len(path) > len("/api/"):
            request.path_info = path.rstrip("/")
        return self.get_response(request)


class ApiMethodNotAllowedMiddleware:
    """A method a path does not serve is a 405 problem detail, like every other API error
    (the router itself answers those with an empty text response)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.path_info.startswith("/api/")
            and not response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)
        ):
            allowed = response.get("Allow", "")
            return problem_response(
                405,
                f"{request.method} is not allowed on this path; allowed: {allowed or 'none'}.",
                instance=request.path,
                headers={"Allow": allowed} if allowed else None,
            )
        return response
