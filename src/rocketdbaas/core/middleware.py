import json
import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import RequestDataTooBig

from rocketdbaas.core.errors import problem_response
from rocketdbaas.core.schemas import refused_character

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


def _refused_in_json(value: Any, field: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        reason = refused_character(value)
        return [{"field": field or "body", "message": reason}] if reason else []
    if isinstance(value, list):
        return [e for i, item in enumerate(value) for e in _refused_in_json(item, f"{field}.{i}".lstrip("."))]
    if isinstance(value, dict):
        errors = []
        for key, item in value.items():
            name = f"{field}.{key}".lstrip(".")
            reason = refused_character(key)
            errors += [{"field": name, "message": f"its key {reason}"}] if reason else []
            errors += _refused_in_json(item, name)
        return errors
    return []


def refused_input(request) -> list[dict[str, str]]:
    """Field problems for characters no database column can hold, in the path, the query
    string or a JSON body, named as the client sent them."""
    errors = []
    if reason := refused_character(request.path_info):
        errors.append({"field": "path", "message": reason})
    for name, values in request.GET.lists():
        if reason := refused_character(name) or next(filter(None, map(refused_character, values)), None):
            errors.append({"field": name, "message": reason})
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body)
        except (RequestDataTooBig, ValueError):
            body = None  # the API answers these itself (413, or 400/422 for bad JSON)
        errors += _refused_in_json(body, "")
    return errors


class ApiInputMiddleware:
    """Refuses text PostgreSQL cannot store before anything reads it: one check for every
    operation's path, query and body, rather than a NUL rule on every string field.

    It answers before authentication: it reads only the request and reveals nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/") and (errors := refused_input(request)):
            return problem_response(422, "The request is not valid.", errors=errors, instance=request.path)
        return self.get_response(request)
