"""Who may do what. Roles: admin > dba > viewer; owners act only on their own applications."""

from django.http import HttpRequest

from rocketdbaas.accounts.models import Role
from rocketdbaas.core.errors import Forbidden

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_fleet_operator(user) -> bool:
    return bool(user and user.is_authenticated and user.role in (Role.ADMIN, Role.DBA))


def require_dba(request: HttpRequest) -> None:
    """Fleet operations (pool, clusters, patching, backups) need the dba or admin role."""
    if not is_fleet_operator(request.user):
        raise Forbidden("This needs the dba or admin role.")


def require_admin(request: HttpRequest) -> None:
    if not (request.user.is_authenticated and request.user.role == Role.ADMIN):
        raise Forbidden("This needs the admin role.")


def can_write(request: HttpRequest) -> bool:
    """Viewers and read-only tokens never write, whatever the route."""
    token = getattr(request, "api_token", None)
    if token is not None and not token.write:
        return False
    return request.user.is_authenticated and request.user.role != Role.VIEWER
