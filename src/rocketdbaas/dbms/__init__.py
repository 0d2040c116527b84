"""The DBMS types RocketDBaaS manages. Everything type-specific lives in dbms/<type>.py."""

from types import ModuleType

from django.db import models

from rocketdbaas.core.config import config
from rocketdbaas.core.errors import NotFound
from rocketdbaas.dbms.base import ConnectionTarget


class DbmsType(models.TextChoices):
    POSTGRESQL = "postgresql", "PostgreSQL"
    MONGODB = "mongodb", "MongoDB"


def resolve_dbms_type(value: str) -> DbmsType:
    """Match a URL's dbmsType case-insensitively; an unknown one is a 404 naming the valid ones."""
    try:
        return DbmsType(value.lower())
    except ValueError:
        valid = [t.value for t in DbmsType]
        raise NotFound(
            f"Unknown dbmsType {value!r}; valid types are: {', '.join(valid)}.", validTypes=valid
        ) from None


def get_module(dbms_type: str) -> ModuleType:
    """The module that knows this DBMS type (dbms/<type>.py)."""
    from rocketdbaas.dbms import mongodb, postgresql

    return {DbmsType.POSTGRESQL: postgresql, DbmsType.MONGODB: mongodb}[DbmsType(dbms_type)]


def connection_target(server, credentials: tuple[str, str]) -> ConnectionTarget:
    """How to reach an inventory Server as `credentials` (user, password).

    The caller resolves the credentials (the telemetry app keeps them); an empty user means
    the type's default user.
    """
    module = get_module(server.dbms_type)
    user, password = credentials
    return ConnectionTarget(
        host=server.address,
        port=server.port or module.DEFAULT_PORT,
        user=user or module.DEFAULT_USER,
        password=password,
        dbname=module.DEFAULT_DBNAME,
        connect_timeout=config.DB_CONNECT_TIMEOUT_SECONDS,
    )
