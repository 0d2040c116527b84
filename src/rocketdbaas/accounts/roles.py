"""Who may do what: the one definition of the roles' powers.

Roles: admin > dba > viewer; owners act only on their own applications. A user who is not
logged in, is inactive or holds a role this module does not know has no power at all.
"""

from django.http import HttpRequest

from rocketdbaas.accounts.models import Role
from rocketdbaas.core.errors import Forbidden

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# Roles that read the whole fleet; owners read only their applications' objects.
FLEET_READERS = frozenset({Role.ADMIN, Role.DBA, Role.VIEWER})
FLEET_OPERATORS = frozenset({Role.ADMIN, Role.DBA})
WRITERS = frozenset({Role.ADMIN, Role.DBA, Role.OWNER})


def role_of(user) -> str | None:
    """The role that counts: None for anonymous and inactive users."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return getattr(user, "role", None)


def reads_whole_fleet(user) -> bool:
    return role_of(user) in FLEET_READERS


def is_owner(user) -> bool:
    return role_of(user) == Role.OWNER


def is_fleet_operator(user) -> bool:
    return role_of(user) in FLEET_OPERATORS


def is_admin(user) -> bool:
    return role_of(user) == Role.ADMIN


def may_write(user) -> bool:
    """Viewers read only; dba, admin and owners (on their applications) change things."""
    return role_of(user) in WRITERS


def require_dba(request: HttpRequest) -> None:
    """Fleet operations (pool, clusters, patching, backups) need the dba or admin role."""
    if not is_fleet_operator(request.user):
        raise Forbidden("This needs the dba or admin role.")


def require_admin(request: HttpRequest) -> None:
    if not is_admin(request.user):
        raise Forbidden("This needs the admin role.")


def can_write(request: HttpRequest) -> bool:
    """Viewers and read-only tokens never write, whatever the route."""
    token = getattr(request, "api_token", None)
    if token is not None and not token.write:
        return False
    return may_write(request.user)
