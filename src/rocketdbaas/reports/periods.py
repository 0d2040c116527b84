"""Report periods: whole UTC calendar months, written YYYY-MM in URLs and output."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.utils import timezone

from rocketdbaas.core.errors import Invalid

DEFAULT_MONTHS = 12
# Long enough for three years of trends, short enough that one request stays cheap.
MAX_MONTHS = 36
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_label(month: date) -> str:
    return f"{month:%Y-%m}"


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MonthRange:
    """The months from `first` to `last` inclusive (both the first day of their month)."""

    first: date
    last: date

    @property
    def months(self) -> list[date]:
        count = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1
        return [add_months(self.first, i) for i in range(count)]

    @property
    def labels(self) -> list[str]:
        return [month_label(m) for m in self.months]

    @property
    def start(self) -> datetime:
        return month_start(self.first)

    @property
    def end(self) -> datetime:
        """The first instant after the range (exclusive bound)."""
        return month_start(add_months(self.last, 1))

    @property
    def since(self) -> str:
        return month_label(self.first)

    @property
    def until(self) -> str:
        return month_label(self.last)


def _parse_month(value: str, field: str) -> date:
    match = _MONTH.match(value.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or not 1970 <= int(match.group(1)) <= 2999:
        raise Invalid(
            "The period is not valid.",
            errors=[{"field": field, "message": f"Use a month written YYYY-MM, not {value!r}."}],
        )
    return date(int(match.group(1)), int(match.group(2)), 1)


def parse_month_range(
    since: str | None, until: str | None, *, default_months: int = DEFAULT_MONTHS, today: date | None = None
) -> MonthRange:
    """The months asked for; by default the last `default_months` months up to the current one."""
    today = today or timezone.now().date()
    last = _parse_month(until, "until") if until else date(today.year, today.month, 1)
    first = _parse_month(since, "since") if since else add_months(last, 1 - default_months)
    if first > last:
        raise Invalid(
            "The period is not valid.",
            errors=[{"field": "since", "message": "The first month comes after the last one."}],
        )
    result = MonthRange(first, last)
    if len(result.months) > MAX_MONTHS:
        raise Invalid(
            "The period is too long.",
            errors=[{"field": "since", "message": f"Ask for at most {MAX_MONTHS} months at a time."}],
        )
    return result
