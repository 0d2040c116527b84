"""limit/offset paging of every API list, answered as `{"count": ..., "items": [...]}`.

Both bounds are checked before the query: an offset past what the database takes as an integer
would otherwise fail there, not as the client's mistake.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from ninja import Field
from ninja.pagination import LimitOffsetPagination

from rocketdbaas.core.schemas import CamelSchema

MAX_OFFSET = 10**12  # far past any list here, far from overflowing offset + limit


class Page(CamelSchema):
    """The page most lists answer by default."""

    limit: int = Field(100, ge=1, le=1000, description="How many items to return")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="How many items to skip")

    def of(self, rows: QuerySet | Sequence[Any], out: Callable[[Any], Any]) -> dict[str, Any]:
        """This page of `rows` (a queryset or a list), each item built by `out`, and the total count."""
        count = rows.count() if isinstance(rows, QuerySet) else len(rows)
        return {"count": count, "items": [out(r) for r in rows[self.offset : self.offset + self.limit]]}


class LargePage(Page):
    """For lists that automation reads whole (the pool, applications, recipes)."""

    limit: int = Field(500, ge=1, le=10_000, description="How many items to return")


class LimitOffset(LimitOffsetPagination):
    """ninja's `@paginate`, with the same bounds."""

    Input = Page  # type: ignore[assignment]
