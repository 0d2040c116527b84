"""The list of reports and the parameters each takes, shared by the web pages and the API."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rocketdbaas.core.errors import Invalid
from rocketdbaas.reports import services
from rocketdbaas.reports.periods import MonthRange, parse_month_range

MAX_DAYS = 3650


@dataclass(frozen=True)
class ReportParams:
    days: int
    period: MonthRange | None = None
    bucket: str = "month"


@dataclass(frozen=True)
class ReportSpec:
    slug: str
    title: str
    description: str
    build: Callable[[str, ReportParams, frozenset[int] | None], services.Report]
    uses_period: bool = True
    uses_bucket: bool = False
    uses_days: bool = False


REPORTS: list[ReportSpec] = [
    ReportSpec(
        "counts",
        "Databases and clusters",
        "Live clusters, their servers and databases, by application and environment.",
        lambda dbms_type, p, apps: services.count_databases(dbms_type, applications=apps),
        uses_period=False,
    ),
    ReportSpec(
        "sizes",
        "Database size and trend",
        "Each cluster's size over time from the collected samples (peak per database, replicas "
        "counted once).",
        lambda dbms_type, p, apps: services.database_sizes(
            dbms_type, _period(p), bucket=p.bucket, applications=apps
        ),
        uses_bucket=True,
    ),
    ReportSpec(
        "backups",
        "Backup size and trend",
        "Backups taken and GB written per month, and the GB of successful, unexpired backups held "
        "at each month's end.",
        lambda dbms_type, p, apps: services.backup_sizes(dbms_type, _period(p), applications=apps),
    ),
    ReportSpec(
        "failovers",
        "Unplanned failovers",
        "Failovers not marked planned and not inside a patch run or a planned outage, per month; "
        "those without a ticket are flagged.",
        lambda dbms_type, p, apps: services.unplanned_failovers(dbms_type, _period(p), applications=apps),
    ),
    ReportSpec(
        "downtime",
        "Downtime and availability",
        "Each cluster's downtime per month: unplanned availability 1 − U/(T − P), overall "
        "availability 1 − (U + P)/T, planned minutes on their own.",
        lambda dbms_type, p, apps: services.downtime_by_month(dbms_type, _period(p), applications=apps),
    ),
    ReportSpec(
        "unpatched",
        "Unpatched servers and clusters",
        "Servers below the newest target DB or OS version, or whose version cannot be compared with "
        "it, or with no successful patch in N days; a cluster is unpatched if any of its servers is.",
        lambda dbms_type, p, apps: services.unpatched_servers(dbms_type, days=p.days, applications=apps),
        uses_period=False,
        uses_days=True,
    ),
    ReportSpec(
        "costs",
        "Cost per application",
        "Monthly cost from the rate card: servers (cores, RAM, disk; replicas included) plus "
        "backup GB-months.",
        lambda dbms_type, p, apps: services.application_costs(dbms_type, _period(p), applications=apps),
    ),
]
BY_SLUG: dict[str, ReportSpec] = {spec.slug: spec for spec in REPORTS}


def _period(params: ReportParams) -> MonthRange:
    assert params.period is not None
    return params.period


def parse_params(spec: ReportSpec, query: Mapping[str, str | None]) -> ReportParams:
    """Read a report's parameters from a query string; bad ones are a 422 naming the field."""
    period = parse_month_range(query.get("since"), query.get("until")) if spec.uses_period else None
    bucket = query.get("bucket") or "month"
    if spec.uses_bucket and bucket not in services.SIZE_BUCKETS:
        raise Invalid(
            "The bucket is not valid.",
            errors=[{"field": "bucket", "message": f"Use one of: {', '.join(services.SIZE_BUCKETS)}."}],
        )
    days = services.patch_max_age_days()
    if spec.uses_days and query.get("days"):
        raw = (query.get("days") or "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
            raise Invalid(
                "The number of days is not valid.",
                errors=[{"field": "days", "message": f"Use a whole number from 1 to {MAX_DAYS}."}],
            )
        days = int(raw)
    return ReportParams(period=period, bucket=bucket, days=days)
