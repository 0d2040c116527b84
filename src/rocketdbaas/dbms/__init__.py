"""The DBMS types RocketDBaaS manages. Everything type-specific lives in dbms/<type>.py."""

from types import ModuleType

from django.db import models

from rocketdbaas.core.errors import NotFound


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
