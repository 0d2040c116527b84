"""The REST API: one NinjaAPI, each app's router mounted under /api/."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja.errors import AuthenticationError, HttpError, ValidationError

from rocketdbaas.accounts.auth import BearerTokenAuth, WebSessionAuth
from rocketdbaas.core.errors import ProblemError, problem_response
from rocketdbaas.core.schemas import ProblemNinjaAPI

logger = logging.getLogger(__name__)


class RocketDBaaSAPI(ProblemNinjaAPI):
    """Keeps the OpenAPI document it built: the routes are fixed once the routers are mounted, and
    building the document takes over a second, which /api/docs and /api/openapi.json paid per request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._openapi_documents: dict[str, Any] = {}

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        if path_prefix not in self._openapi_documents:
            self._openapi_documents[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return self._openapi_documents[path_prefix]


api = RocketDBaaSAPI(
    title="RocketDBaaS API",
    version="1",
    description=(
        "Fleet inventory, spare pool, rolling patching, contacts, audit log, backups and reports "
        "for PostgreSQL and MongoDB. Authenticate with `Authorization: Bearer <token>`. "
        "Errors are RFC 9457 problem details. Every path answers with or without a trailing slash."
    ),
    auth=[BearerTokenAuth(), WebSessionAuth()],
    urls_namespace="api",
)


def _field_errors(errors) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in errors:
        # Drop where ninja put the value and pydantic's tags for the member of a union it tried
        # ("function-wrap[...]", "list[...]"): a client knows its fields by their names.
        loc = [
            str(p)
            for p in err.get("loc", ())
            if p not in ("body", "query", "path", "payload", "data") and "[" not in str(p)
        ]
        out.append({"field": ".".join(loc) or None, "message": err.get("msg", str(err))})
    return out


@api.exception_handler(ProblemError)
def on_problem(request, exc: ProblemError):
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        errors=exc.errors,
        instance=request.path,
        headers=exc.headers,
        **exc.extra,
    )


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    return problem_response(
        422, "The request is not valid.", errors=_field_errors(exc.errors), instance=request.path
    )


@api.exception_handler(DjangoValidationError)
def on_django_validation_error(request, exc: DjangoValidationError):
    errors: list[dict[str, Any]]
    if hasattr(exc, "error_dict"):
        errors = [{"field": f, "message": m} for f, msgs in exc.message_dict.items() for m in msgs]
    else:
        errors = [{"field": None, "message": m} for m in exc.messages]
    return problem_response(422, "The request is not valid.", errors=errors, instance=request.path)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    # Reached only when no credentials came at all: a bad token answers its own 401.
    return problem_response(
        401,
        "No credentials: send an API token as 'Authorization: Bearer <token>'.",
        instance=request.path,
        headers={"WWW-Authenticate": "Bearer"},
    )


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    return problem_response(
        413,
        "The request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE; send it in smaller batches.",
        title="Content too large",
        instance=request.path,
    )


@api.exception_handler(PermissionDenied)
def on_forbidden(request, exc):
    return problem_response(403, str(exc) or "You are not allowed to do this.", instance=request.path)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return problem_response(404, str(exc) or "Not found.", instance=request.path)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return problem_response(exc.status_code, str(exc.message), instance=request.path)


@api.exception_handler(Exception)
def on_unexpected(request, exc):
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return problem_response(500, "An unexpected error occurred; it has been logged.", instance=request.path)


def _mount_routers() -> None:
    from rocketdbaas.accounts.api import router as accounts_router
    from rocketdbaas.activities.api import router as activities_router
    from rocketdbaas.backups.api import router as backups_router
    from rocketdbaas.contacts.api import router as contacts_router
    from rocketdbaas.intake.api import router as intake_router
    from rocketdbaas.inventory.api import router as inventory_router
    from rocketdbaas.patching.api import router as patching_router
    from rocketdbaas.reports.api import router as reports_router
    from rocketdbaas.telemetry.api import router as telemetry_router

    api.add_router("/", accounts_router, tags=["accounts"])
    api.add_router("/", contacts_router, tags=["contacts"])
    api.add_router("/", intake_router, tags=["intake"])
    api.add_router("/", inventory_router, tags=["inventory"])
    api.add_router("/", patching_router, tags=["patching"])
    api.add_router("/", activities_router, tags=["activities"])
    api.add_router("/", backups_router, tags=["backups"])
    api.add_router("/", telemetry_router, tags=["telemetry"])
    api.add_router("/", reports_router, tags=["reports"])


_mount_routers()
