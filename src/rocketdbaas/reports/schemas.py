"""JSON shapes of the reports (camelCase on the wire) and of the rate card and target versions."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from rocketdbaas.core.schemas import CamelSchema


class ReportListItem(CamelSchema):
    slug: str
    title: str
    description: str
    path: str


class ReportBase(CamelSchema):
    dbms_type: str
    notes: list[str] = Field(description="Inputs that are missing, stated plainly; never guessed numbers")


class PeriodReport(ReportBase):
    since: str = Field(description="First month, YYYY-MM")
    until: str = Field(description="Last month, YYYY-MM")


# 1. counts


class CountRow(CamelSchema):
    application: str
    environment: str
    clusters: int
    servers: int
    databases: int


class CountSummary(CamelSchema):
    applications: int
    clusters: int
    servers: int
    databases: int


class CountReport(ReportBase):
    summary: CountSummary
    rows: list[CountRow]


# 2. sizes


class SizeRow(CamelSchema):
    bucket: str = Field(description="First day of the day, week or month, YYYY-MM-DD")
    cluster: str
    application: str
    environment: str
    databases: int
    size_gigs: float


class SizeSummary(CamelSchema):
    current_size_gigs: float
    current_databases: int
    first_bucket_gigs: float | None
    last_bucket_gigs: float | None
    growth_gigs: float | None


class SizeReport(PeriodReport):
    bucket: str
    summary: SizeSummary
    rows: list[SizeRow]


# 3. backups


class BackupRow(CamelSchema):
    month: str
    cluster: str
    application: str
    environment: str
    backups: int = Field(description="Successful backups started this month")
    failed: int
    written_gigs: float = Field(description="GB of the successful backups started this month")
    held_gigs: float = Field(description="GB of successful, unexpired backups at the month's end (or now)")


class BackupSummary(CamelSchema):
    backups: int
    failed: int
    written_gigs: float
    held_gigs_at_end: float


class BackupReport(PeriodReport):
    summary: BackupSummary
    rows: list[BackupRow]


# 4. failovers


class FailoverRow(CamelSchema):
    id: int
    month: str
    occurred_at: datetime
    cluster_name: str | None
    server_name: str | None
    application: str | None
    summary: str
    has_ticket: bool
    ticket_url: str = Field(description="The latest ticket link, after corrections; empty if none")


class FailoverMonth(CamelSchema):
    month: str
    failovers: int
    without_ticket: int


class FailoverSummary(CamelSchema):
    failovers: int
    without_ticket: int
    months: list[FailoverMonth]


class FailoverReport(PeriodReport):
    summary: FailoverSummary
    rows: list[FailoverRow]


# 5. downtime


class DowntimeRow(CamelSchema):
    month: str
    cluster: str
    application: str
    environment: str
    unplanned_minutes: float
    planned_minutes: float
    unplanned_availability: float | None = Field(description="Percent: 100 × (1 − U/(T − P))")
    overall_availability: float = Field(description="Percent: 100 × (1 − (U + P)/T)")
    incidents: int
    mttr_minutes: float | None
    ongoing: bool


class DowntimeSummary(CamelSchema):
    clusters: int
    unplanned_minutes: float
    planned_minutes: float
    worst_cluster: str | None
    worst_month: str | None
    worst_unplanned_availability: float | None


class DowntimeReport(PeriodReport):
    summary: DowntimeSummary
    rows: list[DowntimeRow]


# 6. unpatched


class UnpatchedRow(CamelSchema):
    server: str
    cluster_name: str
    application: str
    environment: str
    role: str
    db_version: str
    os_version: str
    db_outdated: bool
    os_outdated: bool
    version_unknown: bool = Field(
        description="The DB or OS version cannot be compared with its target (none reported, not a "
        "version, or another OS family): the server needs a look and is counted as unpatched"
    )
    patch_overdue: bool | None = Field(description="No successful patch in `days` days (null: unknown)")
    last_patched_at: datetime | None


class UnpatchedSummary(CamelSchema):
    servers: int
    unpatched_servers: int
    clusters: int
    unpatched_clusters: int
    version_unknown_servers: int = Field(
        description="Of the unpatched servers, those counted only because a version is unknown"
    )
    version_unknown_clusters: int = Field(
        description="Of the unpatched clusters, those counted only because a version is unknown"
    )
    db_target: str | None
    os_target: str | None
    days: int


class UnpatchedReport(ReportBase):
    summary: UnpatchedSummary
    rows: list[UnpatchedRow]


# Rate card

Rate = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=4)]


class RateCardOut(CamelSchema):
    id: int
    dbms_type: str
    currency: str
    r_cpu: float = Field(description="Per core-month")
    r_ram: float = Field(description="Per GB of RAM per month")
    r_disk: float = Field(description="Per GB of database disk per month")
    r_backup: float = Field(description="Per backup GB-month")
    effective_from: date
    effective_to: date | None
    notes: str
    updated_at: datetime


class RateCardIn(CamelSchema):
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    r_cpu: Rate
    r_ram: Rate
    r_disk: Rate
    r_backup: Rate
    effective_from: date = Field(description="First day of a month")
    effective_to: date | None = Field(None, description="First day of a month (exclusive); null = open")
    notes: str = Field("", max_length=500)


class RateCardPatch(CamelSchema):
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    r_cpu: Rate | None = None
    r_ram: Rate | None = None
    r_disk: Rate | None = None
    r_backup: Rate | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    notes: str | None = Field(None, max_length=500)


# 7. costs


class CostRow(CamelSchema):
    month: str
    application: str
    cost_centre: str
    servers: int
    cpu: int
    ram_gigs: int
    disk_gigs: int
    backup_gig_months: float
    compute_cost: float | None
    backup_cost: float | None
    total_cost: float | None
    currency: str | None


class CostSummary(CamelSchema):
    total_cost: float | None
    currency: str | None
    months_without_rate_card: list[str]
    rate_cards: list[RateCardOut] = Field(description="The cards that priced these months")


class CostReport(PeriodReport):
    summary: CostSummary
    rows: list[CostRow]
