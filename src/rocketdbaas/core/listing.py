"""Sorting and paging of list pages, driven by the `sort`, `page` and `per_page` query parameters."""

from collections.abc import Mapping, Sequence

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

PAGE_SIZES = (25, 50, 100, 250)
DEFAULT_PAGE_SIZE = 50


def _order_by(expressions: str | Sequence[str], descending: bool) -> list[str]:
    fields = [expressions] if isinstance(expressions, str) else list(expressions)
    if not descending:
        return fields
    return [f[1:] if f.startswith("-") else f"-{f}" for f in fields]


def sort_and_paginate(
    request, queryset: QuerySet, *, sorts: Mapping[str, str | Sequence[str]], default: str
) -> tuple[Page, str]:
    """Order `queryset` by the requested column and return (page, applied sort).

    `sorts` maps a column's public name to its ORM ordering; `?sort=-name` reverses it.
    An unknown column falls back to `default`; the primary key breaks ties so pages never
    overlap or skip rows.
    """
    requested = request.GET.get("sort", "")
    column = requested.removeprefix("-")
    if column not in sorts:
        requested, column = default, default.removeprefix("-")
    ordering = [*_order_by(sorts[column], requested.startswith("-")), "pk"]
    try:
        per_page = int(request.GET.get("per_page", DEFAULT_PAGE_SIZE))
    except ValueError:
        per_page = DEFAULT_PAGE_SIZE
    if per_page not in PAGE_SIZES:
        per_page = DEFAULT_PAGE_SIZE
    paginator = Paginator(queryset.order_by(*ordering), per_page)
    return paginator.get_page(request.GET.get("page")), requested
