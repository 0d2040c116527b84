"""Formatting of report table cells by column kind."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import number_format

register = template.Library()


@register.filter
def cell(row: dict, column) -> str:
    """The value of `column` in `row`, formatted for the table (the template escapes it)."""
    value = row.get(column.key)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column.kind == "int":
        return number_format(value, force_grouping=True)
    # number_format cuts decimals off; round first so the table agrees with the CSV and JSON.
    if column.kind in ("number", "money"):
        return number_format(round(value, 2), decimal_pos=2, force_grouping=True)
    if column.kind == "percent":
        return f"{number_format(round(value, 3), decimal_pos=3)} %"
    if column.kind == "datetime" and isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


@register.filter
def is_numeric(column) -> bool:
    return column.kind in ("int", "number", "money", "percent")
