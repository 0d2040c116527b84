"""The reports: one function per report, each a few SQL aggregations.

The database groups and sums; Python only shapes the aggregated rows (one per group) into
the table and chart. Every report takes `applications`: None for the whole fleet, or the ids
of the applications a user may see (owners see only their own).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    DateField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least, Trunc, TruncMonth
from django.utils import timezone
from pydantic.alias_generators import to_camel

from rocketdbaas.activities import failover
from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.activities.services import activity_queryset, downtime_for_clusters, record_activity
from rocketdbaas.backups.models import Backup, BackupStatus
from rocketdbaas.core.config import config
from rocketdbaas.core.errors import Conflict, Invalid, NotFound
from rocketdbaas.dbms.versions import is_below
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.patching.models import PatchStep, PatchType, StepOutcome, TargetVersion
from rocketdbaas.reports.models import RateCard
from rocketdbaas.reports.periods import MonthRange, add_months, month_label, month_start
from rocketdbaas.telemetry.models import CollectionResult, DailySize, DatabaseInfo, Outcome, SizeSample

GIB = 1024**3
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    # How the table formats the value: text, int, number, percent, money, datetime, url.
    kind: str = "text"


@dataclass
class Report:
    """What a report page, its CSV and its JSON show."""

    slug: str
    dbms_type: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    chart: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)
    # Plain statements about missing inputs (e.g. "no rate card for 2026-03"); never guessed numbers.
    notes: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None


def _chart(kind: str, labels: list[str], datasets: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    return {"type": kind, "labels": labels, "datasets": datasets, **options}


def live_clusters(dbms_type: str, applications: frozenset[int] | None) -> QuerySet[Cluster]:
    """The fleet's clusters (inventory's definition)."""
    qs = Cluster.objects.fleet().filter(dbms_type=dbms_type)
    if applications is not None:
        qs = qs.filter(application_id__in=applications)
    return qs


def fleet_servers(dbms_type: str, applications: frozenset[int] | None) -> QuerySet[Server]:
    """The fleet's servers (inventory's definition; replicas included)."""
    qs = Server.objects.fleet().filter(dbms_type=dbms_type)
    if applications is not None:
        qs = qs.filter(cluster__application_id__in=applications)
    return qs


# ---------------------------------------------------------------------------------------------
# 1. Number of databases and clusters


def count_databases(dbms_type: str, *, applications: frozenset[int] | None = None) -> Report:
    """Live clusters, their servers and their databases, by application and environment."""
    rows = list(
        live_clusters(dbms_type, applications)
        .values("application__name", "environment")
        .annotate(
            clusters=Count("pk", distinct=True),
            server_count=Count("servers", filter=Q(servers__status=PoolStatus.USED), distinct=True),
            database_count=Count("databases", distinct=True),
        )
        .order_by("application__name", "environment")
    )
    rows = [
        {
            "application": row["application__name"],
            "environment": row["environment"],
            "clusters": row["clusters"],
            "servers": row["server_count"],
            "databases": row["database_count"],
        }
        for row in rows
    ]
    environments = sorted({row["environment"] for row in rows})
    applications_seen = sorted({row["application"] for row in rows})
    by_cell = {(row["application"], row["environment"]): row["clusters"] for row in rows}
    datasets = [
        {"label": env, "data": [by_cell.get((app, env), 0) for app in applications_seen]}
        for env in environments
    ]
    summary = {
        "clusters": sum(row["clusters"] for row in rows),
        "servers": sum(row["servers"] for row in rows),
        "databases": sum(row["databases"] for row in rows),
        "applications": len(applications_seen),
    }
    notes = []
    if summary["clusters"] and not summary["databases"]:
        notes.append(
            "No databases have been collected yet: database counts appear after the collector "
            "(rocketdbaas collect) or the sizes push API has reported them."
        )
    return Report(
        slug="counts",
        dbms_type=dbms_type,
        columns=[
            Column("application", "Application"),
            Column("environment", "Environment"),
            Column("clusters", "Clusters", "int"),
            Column("servers", "Servers", "int"),
            Column("databases", "Databases", "int"),
        ],
        rows=rows,
        chart=_chart("bar", applications_seen, datasets, stacked=True, yLabel="Clusters"),
        summary=summary,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# Rate card and target versions (admin-edited inputs of the cost and unpatched reports)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def rate_card_for(dbms_type: str, month: date, cards: list[RateCard]) -> RateCard | None:
    return next((card for card in cards if card.dbms_type == dbms_type and card.covers(month)), None)


RATE_CARD_FIELDS = (
    "currency",
    "r_cpu",
    "r_ram",
    "r_disk",
    "r_backup",
    "effective_from",
    "effective_to",
    "notes",
)


def _validate_rate_card(card: RateCard) -> None:
    """Bad values are a 422; a period that meets another card's is a 409 naming that card."""
    try:
        card.clean_fields(exclude=["updated_by"])
        card.check_period()
    except ValidationError as exc:
        errors = [
            {"field": to_camel(name), "message": message}
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
        raise Invalid("The rate card is not valid.", errors=errors) from None
    overlapping = card.overlapping().first()
    if overlapping is not None:
        raise Conflict(
            f"The period overlaps another {card.dbms_type} rate card: {overlapping}. "
            "End that card first (effectiveTo) or pick another period.",
            conflictingRateCard=overlapping.pk,
        )


def _record_rate_card(card: RateCard, user, verb: str) -> None:
    record_activity(
        dbms_type=card.dbms_type,
        type=ActivityType.OTHER,
        summary=f"Rate card {verb}: {card}",
        user=user,
        details={
            "rateCard": card.pk,
            "currency": card.currency,
            "rCpu": str(card.r_cpu),
            "rRam": str(card.r_ram),
            "rDisk": str(card.r_disk),
            "rBackup": str(card.r_backup),
            "effectiveFrom": card.effective_from.isoformat(),
            "effectiveTo": card.effective_to.isoformat() if card.effective_to else None,
        },
    )


def create_rate_card(dbms_type: str, *, user, **values: Any) -> RateCard:
    with transaction.atomic():
        # Serialise edits of one type's cards so two overlapping periods cannot both pass the check.
        list(RateCard.objects.select_for_update().filter(dbms_type=dbms_type).order_by("pk"))
        card = RateCard(dbms_type=dbms_type, updated_by=user, **values)
        _validate_rate_card(card)
        card.save()
        _record_rate_card(card, user, "created")
    return card


def update_rate_card(dbms_type: str, card_id: int, *, user, **changes: Any) -> RateCard:
    with transaction.atomic():
        cards = {
            c.pk: c for c in RateCard.objects.select_for_update().filter(dbms_type=dbms_type).order_by("pk")
        }
        card = cards.get(card_id)
        if card is None:
            raise NotFound(f"No {dbms_type} rate card with id {card_id}.")
        for name, value in changes.items():
            setattr(card, name, value)
        card.updated_by = user
        _validate_rate_card(card)
        card.save()
        _record_rate_card(card, user, "changed")
    return card


# ---------------------------------------------------------------------------------------------
# 2. Size of databases and its trend

SIZE_BUCKETS = ("day", "week", "month")


def _size_points_sql(
    dbms_type: str, period: MonthRange, bucket: str, applications: frozenset[int] | None
) -> tuple[str, tuple[Any, ...]]:
    """SQL for (bucket, cluster_id, database, size_bytes) points from raw and daily samples.

    A (cluster, server, database, day) is in exactly one of the two tables, so their union is
    the whole series.
    """
    raw = SizeSample.objects.filter(
        dbms_type=dbms_type, sampled_at__gte=period.start, sampled_at__lt=period.end
    )
    daily = DailySize.objects.filter(
        dbms_type=dbms_type, day__gte=period.first, day__lt=add_months(period.last, 1)
    )
    if applications is not None:
        raw = raw.filter(cluster__application_id__in=applications)
        daily = daily.filter(cluster__application_id__in=applications)
    raw_points = (
        raw.order_by()
        .annotate(bucket=Trunc("sampled_at", bucket, output_field=DateField()), size=F("size_bytes"))
        .values_list("bucket", "cluster_id", "database", "size")
    )
    daily_points = (
        daily.order_by()
        .annotate(bucket=Trunc("day", bucket, output_field=DateField()), size=F("max_bytes"))
        .values_list("bucket", "cluster_id", "database", "size")
    )
    return raw_points.union(daily_points, all=True).query.sql_with_params()


def database_sizes(
    dbms_type: str, period: MonthRange, *, bucket: str = "month", applications: frozenset[int] | None = None
) -> Report:
    """Each cluster's size per day, week or month: the sum of its databases' peak sizes.

    A database's size in a bucket is its largest sample there, taken across the cluster's
    servers so that replicas do not count it twice.
    """
    if bucket not in SIZE_BUCKETS:
        raise Invalid(
            "The bucket is not valid.",
            errors=[{"field": "bucket", "message": f"Use one of: {', '.join(SIZE_BUCKETS)}."}],
        )
    points_sql, params = _size_points_sql(dbms_type, period, bucket, applications)
    qn = connection.ops.quote_name
    sql = f"""
        SELECT s.bucket, c.name, a.name, c.environment, SUM(s.peak), COUNT(*)
        FROM (
            SELECT p.bucket, p.cluster_id, p.{qn("database")}, MAX(p.size) AS peak
            FROM ({points_sql}) p
            GROUP BY p.bucket, p.cluster_id, p.{qn("database")}
        ) s
        JOIN {qn(Cluster._meta.db_table)} c ON c.id = s.cluster_id
        JOIN {qn(Application._meta.db_table)} a ON a.id = c.application_id
        GROUP BY s.bucket, c.name, a.name, c.environment
        ORDER BY s.bucket, c.name
    """  # noqa: S608 - only table names and Django-compiled SQL are interpolated; values are params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    rows = [
        {
            "bucket": str(day)[:10],
            "cluster": cluster,
            "application": application,
            "environment": environment,
            "databases": databases,
            "size_gigs": round(int(size) / GIB, 3),
        }
        for day, cluster, application, environment, size, databases in fetched
    ]
    buckets = sorted({row["bucket"] for row in rows})
    per_app: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        per_app[row["application"]][row["bucket"]] += row["size_gigs"]
    datasets: list[dict[str, Any]] = [
        {"label": app, "data": [round(sizes.get(b, 0.0), 3) for b in buckets]}
        for app, sizes in sorted(per_app.items())
    ]
    totals = [round(sum(ds["data"][i] for ds in datasets), 3) for i in range(len(buckets))]
    current = DatabaseInfo.objects.filter(cluster__in=live_clusters(dbms_type, applications)).aggregate(
        bytes=Sum("size_bytes"), databases=Count("pk")
    )
    summary = {
        "current_size_gigs": round((current["bytes"] or 0) / GIB, 3),
        "current_databases": current["databases"],
        "first_bucket_gigs": totals[0] if totals else None,
        "last_bucket_gigs": totals[-1] if totals else None,
        "growth_gigs": round(totals[-1] - totals[0], 3) if totals else None,
    }
    notes = []
    if not rows:
        notes.append(
            "No size samples in this period: sizes appear once the collector (rocketdbaas collect) "
            "or the sizes push API has recorded them."
        )
    return Report(
        slug="sizes",
        dbms_type=dbms_type,
        columns=[
            Column("bucket", bucket.capitalize()),
            Column("cluster", "Cluster"),
            Column("application", "Application"),
            Column("environment", "Environment"),
            Column("databases", "Databases", "int"),
            Column("size_gigs", "Size (GiB)", "number"),
        ],
        rows=rows,
        chart=_chart("line", buckets, datasets, stacked=True, yLabel="GiB"),
        summary=summary,
        notes=notes,
        since=period.since,
        until=period.until,
    )


# ---------------------------------------------------------------------------------------------
# 3. Size of backups and its trend


def backup_sizes(
    dbms_type: str,
    period: MonthRange,
    *,
    applications: frozenset[int] | None = None,
    now: datetime | None = None,
) -> Report:
    """Per cluster and month: backups taken (and failed), GB written, and GB held at the month's
    end (successful backups finished by then and not yet expired). Two grouped queries."""
    now = now or timezone.now()
    backups = Backup.objects.filter(dbms_type=dbms_type)
    if applications is not None:
        backups = backups.filter(cluster__application_id__in=applications)
    taken = {
        (month_label(row["month"]), row["cluster_id"]): row
        for row in backups.filter(started_at__gte=period.start, started_at__lt=period.end)
        .order_by()
        .annotate(month=TruncMonth("started_at", output_field=DateField()))
        .values("month", "cluster_id")
        .annotate(
            backups=Count("pk", filter=Q(status=BackupStatus.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=BackupStatus.FAILED)),
            written=Sum("bkup_size_gigs", filter=Q(status=BackupStatus.SUCCEEDED)),
        )
    }
    held_aggregates = {}
    for index, month in enumerate(period.months):
        # The month's end, or now for the current month.
        moment = min(month_start(add_months(month, 1)), now)
        is_held = Q(status=BackupStatus.SUCCEEDED, stopped_at__lte=moment) & (
            Q(expired_at__isnull=True) | Q(expired_at__gt=moment)
        )
        held_aggregates[f"held_{index}"] = Sum("bkup_size_gigs", filter=is_held)
    held_rows = list(
        backups.filter(started_at__lt=period.end)
        .filter(Q(expired_at__isnull=True) | Q(expired_at__gt=period.start))
        .order_by()
        .values("cluster_id")
        .annotate(**held_aggregates)
    )
    held = {
        (label, row["cluster_id"]): row[f"held_{index}"]
        for row in held_rows
        for index, label in enumerate(period.labels)
        if row[f"held_{index}"] is not None
    }
    keys = sorted(set(taken) | set(held))
    clusters = {
        pk: (name, application, environment)
        for pk, name, application, environment in Cluster.objects.filter(
            pk__in={cluster_id for _, cluster_id in keys}
        ).values_list("pk", "name", "application__name", "environment")
    }
    rows = []
    for label, cluster_id in keys:
        counted = taken.get((label, cluster_id), {})
        name, application, environment = clusters[cluster_id]
        rows.append(
            {
                "month": label,
                "cluster": name,
                "application": application,
                "environment": environment,
                "backups": counted.get("backups", 0),
                "failed": counted.get("failed", 0),
                "written_gigs": round(counted.get("written") or 0.0, 3),
                "held_gigs": round(held.get((label, cluster_id)) or 0.0, 3),
            }
        )
    rows.sort(key=lambda r: (r["month"], r["cluster"]))
    written = [round(sum(r["written_gigs"] for r in rows if r["month"] == m), 3) for m in period.labels]
    stored = [round(sum(r["held_gigs"] for r in rows if r["month"] == m), 3) for m in period.labels]
    chart = _chart(
        "bar",
        period.labels,
        [
            {"label": "GB written", "data": written},
            {"label": "GB held at month end", "data": stored, "type": "line", "color": "#c2410c"},
        ],
        yLabel="GB",
    )
    notes = []
    if not rows:
        notes.append(
            "No backups recorded in this period: register them with POST /api/{dbmsType}/backups "
            "or import pgBackRest / PBM output (rocketdbaas backups import)."
        )
    return Report(
        slug="backups",
        dbms_type=dbms_type,
        columns=[
            Column("month", "Month"),
            Column("cluster", "Cluster"),
            Column("application", "Application"),
            Column("environment", "Environment"),
            Column("backups", "Backups", "int"),
            Column("failed", "Failed", "int"),
            Column("written_gigs", "GB written", "number"),
            Column("held_gigs", "GB held at month end", "number"),
        ],
        rows=rows,
        chart=chart,
        summary={
            "backups": sum(r["backups"] for r in rows),
            "failed": sum(r["failed"] for r in rows),
            "written_gigs": round(sum(written), 3),
            "held_gigs_at_end": stored[-1] if stored else 0.0,
        },
        notes=notes,
        since=period.since,
        until=period.until,
    )


# ---------------------------------------------------------------------------------------------
# 6. Unpatched servers and clusters


def patch_max_age_days() -> int:
    return config.REPORTS_PATCH_MAX_AGE_DAYS


def _judged(versions: set[str], target: str | None) -> tuple[list[str], list[str]]:
    """(below, unknown): which of `versions` are below `target`, and which cannot be compared
    with it. The fleet has a handful of distinct version strings: they are compared here with
    the one version order, and the servers are then filtered in SQL."""
    if not target:
        return [], []
    judged = {v: is_below(v, target) for v in versions}
    return (
        sorted(v for v, below in judged.items() if below),
        sorted(v for v, below in judged.items() if below is None),
    )


@dataclass(frozen=True)
class PatchState:
    """Servers annotated with db_outdated, os_outdated, version_unknown, patch_overdue and
    last_patched_at. `is_unpatched` is every server needing attention: below a target, overdue,
    or with a version that cannot be compared with its target (never counted up to date);
    `is_behind` leaves out the last kind."""

    servers: QuerySet[Any]
    is_unpatched: Q
    is_behind: Q
    db_target: str | None
    os_target: str | None
    days: int


def patch_state(dbms_type: str, servers: QuerySet[Server], *, days: int, now: datetime) -> PatchState:
    """Flag servers below the target DB or OS version of their type, or whose version cannot be
    compared with it, or with no successful patch in `days` days (unless they joined the
    inventory since). Two small queries; the flags themselves are SQL expressions on `servers`."""
    cutoff = now - timedelta(days=days)
    targets = dict(TargetVersion.objects.filter(dbms_type=dbms_type).values_list("patch_type", "version"))
    db_target, os_target = targets.get(PatchType.DB), targets.get(PatchType.OS)
    seen_db: set[str] = set()
    seen_os: set[str] = set()
    for db_version, os_version in servers.order_by().values_list("db_version", "os_version").distinct():
        seen_db.add(db_version)
        seen_os.add(os_version)
    db_below, db_unknown = _judged(seen_db, db_target)
    os_below, os_unknown = _judged(seen_os, os_target)
    last_patched = Subquery(
        PatchStep.objects.filter(server=OuterRef("pk"), outcome=StepOutcome.SUCCEEDED, run__dry_run=False)
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    flagged = servers.annotate(
        last_patched_at=last_patched,
        db_outdated=ExpressionWrapper(Q(db_version__in=db_below), output_field=BooleanField()),
        os_outdated=ExpressionWrapper(Q(os_version__in=os_below), output_field=BooleanField()),
        version_unknown=ExpressionWrapper(
            Q(db_version__in=db_unknown) | Q(os_version__in=os_unknown), output_field=BooleanField()
        ),
        patch_overdue=ExpressionWrapper(
            Q(created_at__lt=cutoff) & (Q(last_patched_at__isnull=True) | Q(last_patched_at__lt=cutoff)),
            output_field=BooleanField(),
        ),
    )
    return PatchState(
        servers=flagged,
        is_unpatched=Q(db_outdated=True)
        | Q(os_outdated=True)
        | Q(patch_overdue=True)
        | Q(version_unknown=True),
        is_behind=Q(db_outdated=True) | Q(os_outdated=True) | Q(patch_overdue=True),
        db_target=db_target,
        os_target=os_target,
        days=days,
    )


def unpatched_servers(
    dbms_type: str,
    *,
    days: int | None = None,
    applications: frozenset[int] | None = None,
    now: datetime | None = None,
) -> Report:
    """Unpatched servers (see patch_state) and clusters: a cluster is unpatched if any server is."""
    days = days or patch_max_age_days()
    state = patch_state(
        dbms_type, fleet_servers(dbms_type, applications), days=days, now=now or timezone.now()
    )
    flagged, is_unpatched = state.servers, state.is_unpatched
    db_target, os_target = state.db_target, state.os_target
    counts = flagged.aggregate(
        servers=Count("pk"),
        unpatched_servers=Count("pk", filter=is_unpatched),
        behind_servers=Count("pk", filter=state.is_behind),
        clusters=Count("cluster", distinct=True),
        unpatched_clusters=Count("cluster", distinct=True, filter=is_unpatched),
        behind_clusters=Count("cluster", distinct=True, filter=state.is_behind),
    )
    # Needing attention only because a version cannot be compared with its target.
    counts["version_unknown_servers"] = counts["unpatched_servers"] - counts.pop("behind_servers")
    counts["version_unknown_clusters"] = counts["unpatched_clusters"] - counts.pop("behind_clusters")
    rows = list(
        flagged.filter(is_unpatched)
        .order_by("cluster__name", "name")
        .values(
            "role",
            "db_version",
            "os_version",
            "db_outdated",
            "os_outdated",
            "version_unknown",
            "patch_overdue",
            "last_patched_at",
            "cluster__environment",
            server=F("name"),
            cluster_name=F("cluster__name"),
            application=F("cluster__application__name"),
        )
    )
    for row in rows:
        row["environment"] = row.pop("cluster__environment")
    up_to_date = [
        counts["servers"] - counts["unpatched_servers"],
        counts["clusters"] - counts["unpatched_clusters"],
    ]
    chart = _chart(
        "bar",
        ["Servers", "Clusters"],
        [
            {"label": "Up to date", "data": up_to_date, "color": "#16794a"},
            {
                "label": "Unpatched",
                "data": [
                    counts["unpatched_servers"] - counts["version_unknown_servers"],
                    counts["unpatched_clusters"] - counts["version_unknown_clusters"],
                ],
                "color": "#b42318",
            },
            {
                "label": "Version unknown",
                "data": [counts["version_unknown_servers"], counts["version_unknown_clusters"]],
                "color": "#b54708",
            },
        ],
        stacked=True,
        yLabel="Count",
    )
    notes = []
    if not (db_target or os_target):
        notes.append(
            f"No target versions are set for {dbms_type}: only the {days}-day patch age is checked. "
            "Set them under patching's target versions."
        )
    return Report(
        slug="unpatched",
        dbms_type=dbms_type,
        columns=[
            Column("server", "Server"),
            Column("cluster_name", "Cluster"),
            Column("application", "Application"),
            Column("environment", "Environment"),
            Column("role", "Role"),
            Column("db_version", "DB version"),
            Column("os_version", "OS version"),
            Column("db_outdated", "DB below target"),
            Column("os_outdated", "OS below target"),
            Column("version_unknown", "Version unknown"),
            Column("patch_overdue", f"No patch in {days} days"),
            Column("last_patched_at", "Last patched", "datetime"),
        ],
        rows=rows,
        chart=chart,
        summary={**counts, "db_target": db_target, "os_target": os_target, "days": days},
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# 7. Cost per application per month


class EpochSeconds(Func):
    """Seconds since 1970 of a timestamp, on PostgreSQL and SQLite alike."""

    output_field = FloatField()
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)"

    def as_sqlite(self, compiler, connection, **extra_context):
        # julianday() counts days; 2440587.5 is the Julian day of 1970-01-01T00:00Z.
        return super().as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        )


def server_resources_by_month(
    dbms_type: str, period: MonthRange, applications: frozenset[int] | None
) -> dict[tuple[int, str], dict[str, int]]:
    """Per application and month: servers, cores, GB of RAM and of disk of its live clusters.

    Replicas count toward their cluster. A cluster counts from the month it was created in.
    One query: one filtered SUM per month and resource.
    """
    aggregates: dict[str, Any] = {}
    for index, month in enumerate(period.months):
        exists = Q(cluster__created_at__lt=month_start(add_months(month, 1)))
        aggregates[f"servers_{index}"] = Count("pk", filter=exists)
        aggregates[f"cpu_{index}"] = Sum("cpu", filter=exists)
        aggregates[f"ram_{index}"] = Sum("ram", filter=exists)
        aggregates[f"disk_{index}"] = Sum("db_gigs", filter=exists)
    grouped = (
        fleet_servers(dbms_type, applications)
        .values("cluster__application_id")
        .annotate(**aggregates)
        .order_by()
    )
    result: dict[tuple[int, str], dict[str, int]] = {}
    for row in grouped:
        for index, label in enumerate(period.labels):
            if row[f"servers_{index}"]:
                result[(row["cluster__application_id"], label)] = {
                    "servers": row[f"servers_{index}"],
                    "cpu": row[f"cpu_{index}"] or 0,
                    "ram_gigs": row[f"ram_{index}"] or 0,
                    "disk_gigs": row[f"disk_{index}"] or 0,
                }
    return result


# ---------------------------------------------------------------------------------------------
# 4. Unplanned failovers


def unplanned_failover_queryset(dbms_type: str, period: MonthRange, applications: frozenset[int] | None):
    """The period's unplanned failovers (activities.failover decides which), annotated with
    their latest ticket link."""
    qs = activity_queryset(dbms_type).filter(
        type=ActivityType.FAILOVER,
        corrects__isnull=True,
        occurred_at__gte=period.start,
        occurred_at__lt=period.end,
    )
    if applications is not None:
        qs = qs.filter(cluster__application_id__in=applications)
    return failover.unplanned(qs)


def unplanned_failovers(
    dbms_type: str, period: MonthRange, *, applications: frozenset[int] | None = None
) -> Report:
    """Unplanned failovers per month (chart) and each of them (table), flagging those without a ticket."""
    qs = unplanned_failover_queryset(dbms_type, period, applications)
    monthly = {
        month_label(row["month"]): row
        for row in qs.annotate(month=TruncMonth("occurred_at", output_field=DateField()))
        .values("month")
        .annotate(failovers=Count("pk"), without_ticket=Count("pk", filter=Q(effective_ticket_url="")))
        .order_by("month")
    }
    months: list[dict[str, Any]] = [
        {
            "month": label,
            "failovers": monthly[label]["failovers"] if label in monthly else 0,
            "without_ticket": monthly[label]["without_ticket"] if label in monthly else 0,
        }
        for label in period.labels
    ]
    rows = list(
        qs.order_by("-occurred_at", "-id").values(
            "id",
            "occurred_at",
            "summary",
            cluster_name=F("cluster__name"),
            server_name=F("server__name"),
            application=F("cluster__application__name"),
            latest_ticket_url=F("effective_ticket_url"),
        )
    )
    for row in rows:
        row["month"] = month_label(row["occurred_at"])
        row["ticket_url"] = row.pop("latest_ticket_url")
        row["has_ticket"] = bool(row["ticket_url"])
    chart = _chart(
        "bar",
        period.labels,
        [
            {"label": "With ticket", "data": [m["failovers"] - m["without_ticket"] for m in months]},
            {"label": "Without ticket", "data": [m["without_ticket"] for m in months], "color": "#b42318"},
        ],
        stacked=True,
        yLabel="Unplanned failovers",
    )
    return Report(
        slug="failovers",
        dbms_type=dbms_type,
        columns=[
            Column("month", "Month"),
            Column("occurred_at", "When", "datetime"),
            Column("cluster_name", "Cluster"),
            Column("server_name", "Server"),
            Column("application", "Application"),
            Column("summary", "Summary"),
            Column("has_ticket", "Has ticket"),
            Column("ticket_url", "Ticket", "url"),
        ],
        rows=rows,
        chart=chart,
        summary={
            "failovers": sum(m["failovers"] for m in months),
            "without_ticket": sum(m["without_ticket"] for m in months),
            "months": months,
        },
        since=period.since,
        until=period.until,
    )


# ---------------------------------------------------------------------------------------------
# 5. Downtime per cluster and month


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 4)


def downtime_by_month(
    dbms_type: str,
    period: MonthRange,
    *,
    applications: frozenset[int] | None = None,
    now: datetime | None = None,
) -> Report:
    """Each live cluster's downtime in each month, computed by activities.downtime_for_clusters
    (two queries per month whatever the number of clusters)."""
    clusters = {
        pk: (name, application, environment, created_at)
        for pk, name, application, environment, created_at in live_clusters(dbms_type, applications)
        .order_by("name")
        .values_list("pk", "name", "application__name", "environment", "created_at")
    }
    rows: list[dict[str, Any]] = []
    fleet: list[dict[str, Any]] = []
    for month in period.months:
        start, end = month_start(month), month_start(add_months(month, 1))
        existing = [pk for pk, info in clusters.items() if info[3] < end]
        results = downtime_for_clusters(dbms_type, start, end, existing, now=now) if existing else []
        unplanned = sum(r.unplanned_minutes for r in results)
        planned = sum(r.planned_minutes for r in results)
        available = sum(r.period_minutes - r.planned_minutes for r in results)
        fleet.append(
            {
                "unplanned_minutes": round(unplanned, 2),
                "planned_minutes": round(planned, 2),
                "unplanned_availability": _percent(1 - unplanned / available) if available else None,
            }
        )
        rows.extend(
            {
                "month": month_label(month),
                "cluster": r.cluster_name,
                "application": clusters[r.cluster_id][1],
                "environment": clusters[r.cluster_id][2],
                "unplanned_minutes": round(r.unplanned_minutes, 2),
                "planned_minutes": round(r.planned_minutes, 2),
                "unplanned_availability": _percent(r.unplanned_availability),
                "overall_availability": _percent(r.overall_availability),
                "incidents": r.incidents,
                "mttr_minutes": None if r.mttr_minutes is None else round(r.mttr_minutes, 2),
                "ongoing": r.ongoing,
            }
            for r in results
        )
    chart = _chart(
        "bar",
        period.labels,
        [
            {
                "label": "Unplanned minutes",
                "data": [f["unplanned_minutes"] for f in fleet],
                "color": "#b42318",
            },
            {"label": "Planned minutes", "data": [f["planned_minutes"] for f in fleet], "color": "#8a5a00"},
            {
                "label": "Fleet unplanned availability %",
                "data": [f["unplanned_availability"] for f in fleet],
                "type": "line",
                "axis": "right",
                "color": "#16794a",
            },
        ],
        stacked=True,
        yLabel="Minutes of downtime",
        y1Label="Availability %",
    )
    worst = min(
        (r for r in rows if r["unplanned_minutes"] > 0 and r["unplanned_availability"] is not None),
        key=lambda r: r["unplanned_availability"],
        default=None,
    )
    return Report(
        slug="downtime",
        dbms_type=dbms_type,
        columns=[
            Column("month", "Month"),
            Column("cluster", "Cluster"),
            Column("application", "Application"),
            Column("environment", "Environment"),
            Column("unplanned_minutes", "Unplanned min", "number"),
            Column("planned_minutes", "Planned min", "number"),
            Column("unplanned_availability", "Unplanned availability", "percent"),
            Column("overall_availability", "Overall availability", "percent"),
            Column("incidents", "Incidents", "int"),
            Column("mttr_minutes", "MTTR min", "number"),
            Column("ongoing", "Ongoing"),
        ],
        rows=rows,
        chart=chart,
        summary={
            "clusters": len(clusters),
            "unplanned_minutes": round(sum(f["unplanned_minutes"] for f in fleet), 2),
            "planned_minutes": round(sum(f["planned_minutes"] for f in fleet), 2),
            "worst_cluster": worst["cluster"] if worst else None,
            "worst_month": worst["month"] if worst else None,
            "worst_unplanned_availability": worst["unplanned_availability"] if worst else None,
        },
        since=period.since,
        until=period.until,
    )


def _stored_gigs_in_month(month: date, now: datetime) -> Any:
    """GB-months one backup row adds to `month`: its size times the share of the month it was
    held (from its end, or start while it has none, until it expired or now)."""
    start = month_start(month).timestamp()
    end = min(month_start(add_months(month, 1)).timestamp(), now.timestamp())
    held_from = Greatest(EpochSeconds(Coalesce("stopped_at", "started_at")), Value(start))
    held_until = Least(Coalesce(EpochSeconds("expired_at"), Value(end)), Value(end))
    seconds = Greatest(held_until - held_from, Value(0.0))
    month_seconds = month_start(add_months(month, 1)).timestamp() - start
    return F("bkup_size_gigs") * seconds / Value(month_seconds)


def backup_gig_months(
    dbms_type: str, period: MonthRange, applications: frozenset[int] | None, now: datetime
) -> dict[tuple[int, str], float]:
    """Per application and month: GB-months of successful backups held (one query)."""
    backups = Backup.objects.filter(
        dbms_type=dbms_type, status=BackupStatus.SUCCEEDED, started_at__lt=min(period.end, now)
    ).filter(Q(expired_at__isnull=True) | Q(expired_at__gt=period.start))
    if applications is not None:
        backups = backups.filter(cluster__application_id__in=applications)
    grouped = (
        backups.order_by()
        .values("cluster__application_id")
        .annotate(
            **{
                f"gbm_{index}": Sum(_stored_gigs_in_month(month, now), output_field=FloatField())
                for index, month in enumerate(period.months)
            }
        )
    )
    return {
        (row["cluster__application_id"], label): row[f"gbm_{index}"]
        for row in grouped
        for index, label in enumerate(period.labels)
        if row[f"gbm_{index}"]
    }


def application_costs(
    dbms_type: str,
    period: MonthRange,
    *,
    applications: frozenset[int] | None = None,
    now: datetime | None = None,
) -> Report:
    """Cost per application and month (DESIGN §7): per server cpu * r_cpu + ram * r_ram +
    dbGigs * r_disk, plus backup GB-months * r_backup, at the rates of the card in force that
    month. Resource totals come from SQL; only the per-(application, month) sums are priced here.
    """
    now = now or timezone.now()
    resources = server_resources_by_month(dbms_type, period, applications)
    backups = backup_gig_months(dbms_type, period, applications, now)
    notes = []
    keys = set(resources) | set(backups)
    names = {
        pk: (name, cost_centre)
        for pk, name, cost_centre in Application.objects.filter(
            pk__in={app_id for app_id, _ in keys}
        ).values_list("pk", "name", "cost_centre")
    }
    cards = list(
        RateCard.objects.filter(dbms_type=dbms_type, effective_from__lt=period.end.date())
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=period.first))
        .order_by("effective_from")
    )
    card_of = {month_label(month): rate_card_for(dbms_type, month, cards) for month in period.months}
    rows = []
    for app_id, label in keys:
        used = resources.get((app_id, label), {"servers": 0, "cpu": 0, "ram_gigs": 0, "disk_gigs": 0})
        gig_months = backups.get((app_id, label), 0.0)
        name, cost_centre = names[app_id]
        card = card_of[label]
        row: dict[str, Any] = {
            "month": label,
            "application": name,
            "cost_centre": cost_centre,
            **used,
            "backup_gig_months": round(gig_months, 3),
            "compute_cost": None,
            "backup_cost": None,
            "total_cost": None,
            "currency": None,
        }
        if card is not None:
            compute = (
                used["cpu"] * card.r_cpu + used["ram_gigs"] * card.r_ram + used["disk_gigs"] * card.r_disk
            )
            backup = Decimal(str(gig_months)) * card.r_backup
            row.update(
                compute_cost=float(money(compute)),
                backup_cost=float(money(backup)),
                total_cost=float(money(compute) + money(backup)),
                currency=card.currency,
            )
        rows.append(row)
    rows.sort(key=lambda r: (r["month"], r["application"]))
    applications_seen = sorted({row["application"] for row in rows})
    cost_of = {(row["application"], row["month"]): row["total_cost"] for row in rows}
    datasets = [
        {"label": app, "data": [cost_of.get((app, label)) or 0 for label in period.labels]}
        for app in applications_seen
    ]
    uncovered = [label for label, card in card_of.items() if card is None]
    currencies = {card.currency for card in card_of.values() if card is not None}
    priced = [Decimal(str(row["total_cost"])) for row in rows if row["total_cost"] is not None]
    if uncovered:
        notes.append(
            f"No {dbms_type} rate card covers {', '.join(uncovered)}: costs for those months are not "
            "shown. An admin sets rates in the admin site or at /api/{dbmsType}/reports/rateCards."
        )
    if len(currencies) > 1:
        notes.append("The rate cards in this period use different currencies; the total mixes them.")
    return Report(
        slug="costs",
        dbms_type=dbms_type,
        columns=[
            Column("month", "Month"),
            Column("application", "Application"),
            Column("cost_centre", "Cost centre"),
            Column("servers", "Servers", "int"),
            Column("cpu", "Cores", "int"),
            Column("ram_gigs", "RAM GB", "int"),
            Column("disk_gigs", "Disk GB", "int"),
            Column("backup_gig_months", "Backup GB-months", "number"),
            Column("compute_cost", "Servers cost", "money"),
            Column("backup_cost", "Backup cost", "money"),
            Column("total_cost", "Total", "money"),
            Column("currency", "Currency"),
        ],
        rows=rows,
        chart=_chart("bar", period.labels, datasets, stacked=True, yLabel=next(iter(currencies), "Cost")),
        summary={
            "total_cost": float(sum(priced, Decimal(0))) if priced else None,
            "currency": next(iter(currencies)) if len(currencies) == 1 else None,
            "months_without_rate_card": uncovered,
            "rate_cards": [card for card in cards if card in card_of.values()],
        },
        notes=notes,
        since=period.since,
        until=period.until,
    )


def get_rate_card(dbms_type: str, card_id: int) -> RateCard:
    card = RateCard.objects.filter(dbms_type=dbms_type, pk=card_id).first()
    if card is None:
        raise NotFound(f"No {dbms_type} rate card with id {card_id}.")
    return card


# ---------------------------------------------------------------------------------------------
# "My databases": an application owner's dashboard

RECENT_ACTIVITIES_ON_DASHBOARD = 15
DASHBOARD_TREND_MONTHS = 3


def _count_of(model, link: str, **filters: Any) -> Coalesce:
    """COUNT of `model` rows pointing at the outer row, as a subquery (no join fan-out)."""
    rows = model.objects.filter(**{link: OuterRef("pk")}, **filters).order_by().values(link)
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1]), Value(0))


@dataclass
class ClusterState:
    """A cluster on the dashboard; `cluster` carries the counts annotated by the query."""

    cluster: Any
    health: str
    size_gigs: float | None
    unpatched_servers: int
    last_patched_at: datetime | None


@dataclass
class Dashboard:
    applications: list[Application]
    clusters: list[ClusterState]
    recent_activities: list[Activity]
    size_chart: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def owner_dashboard(user, *, now: datetime | None = None) -> Dashboard:
    """The applications `user` owns, their live clusters with health, size, patch state, and
    latest backup, recent activities and a size trend. A fixed number of queries."""
    now = now or timezone.now()
    applications = list(
        Application.objects.visible_to(user)
        .filter(owners=user)
        .prefetch_related("contact_links__contact")
        .order_by("name")
    )
    owned = frozenset(app.pk for app in applications)
    latest_result = CollectionResult.objects.filter(server=OuterRef("pk")).order_by("-collected_at", "-id")
    latest_backup = Backup.objects.filter(cluster=OuterRef("pk")).order_by("-started_at", "-id")
    servers = Server.objects.filter(cluster=OuterRef("pk"), status=PoolStatus.USED).annotate(
        latest_outcome=Subquery(latest_result.values("outcome")[:1])
    )
    clusters = list(
        Cluster.objects.fleet()
        .filter(application_id__in=owned)
        .select_related("application")
        .annotate(
            server_count=_count_of(Server, "cluster", status=PoolStatus.USED),
            database_count=_count_of(DatabaseInfo, "cluster"),
            size_bytes=Subquery(
                DatabaseInfo.objects.filter(cluster=OuterRef("pk"))
                .order_by()
                .values("cluster")
                .annotate(total=Sum("size_bytes"))
                .values("total")[:1]
            ),
            servers_ok=Coalesce(
                Subquery(
                    servers.filter(latest_outcome=Outcome.OK)
                    .order_by()
                    .values("cluster")
                    .annotate(n=Count("pk"))
                    .values("n")[:1]
                ),
                Value(0),
            ),
            servers_failing=Coalesce(
                Subquery(
                    servers.exclude(latest_outcome=Outcome.OK)
                    .filter(latest_outcome__isnull=False)
                    .order_by()
                    .values("cluster")
                    .annotate(n=Count("pk"))
                    .values("n")[:1]
                ),
                Value(0),
            ),
            last_collected_at=Subquery(
                CollectionResult.objects.filter(cluster=OuterRef("pk"))
                .order_by("-collected_at")
                .values("collected_at")[:1]
            ),
            last_backup_at=Subquery(latest_backup.values("started_at")[:1]),
            last_backup_status=Subquery(latest_backup.values("status")[:1]),
            last_backup_type=Subquery(latest_backup.values("backup_type")[:1]),
            last_backup_gigs=Subquery(latest_backup.values("bkup_size_gigs")[:1]),
            last_good_backup_at=Subquery(
                latest_backup.filter(status=BackupStatus.SUCCEEDED).values("stopped_at")[:1]
            ),
        )
        .order_by("application__name", "dbms_type", "name")
    )
    types = sorted({cluster.dbms_type for cluster in clusters})
    unpatched: dict[int, int] = {}
    last_patched: dict[int, datetime | None] = {}
    for dbms_type in types:
        state = patch_state(dbms_type, fleet_servers(dbms_type, owned), days=patch_max_age_days(), now=now)
        for row in (
            state.servers.values("cluster_id")
            .annotate(unpatched=Count("pk", filter=state.is_unpatched), last=Max("last_patched_at"))
            .order_by()
        ):
            unpatched[row["cluster_id"]] = row["unpatched"]
            last_patched[row["cluster_id"]] = row["last"]
    states = [
        ClusterState(
            cluster=cluster,
            health=_health(cluster),
            size_gigs=None if cluster.size_bytes is None else round(cluster.size_bytes / GIB, 3),
            unpatched_servers=unpatched.get(cluster.pk, 0),
            last_patched_at=last_patched.get(cluster.pk),
        )
        for cluster in clusters
    ]

    recent = list(
        activity_queryset()
        .filter(cluster__application_id__in=owned, corrects__isnull=True)
        .order_by("-occurred_at", "-id")[:RECENT_ACTIVITIES_ON_DASHBOARD]
    )

    period = MonthRange(
        add_months(now.date().replace(day=1), 1 - DASHBOARD_TREND_MONTHS), now.date().replace(day=1)
    )
    size_rows = [
        row
        for dbms_type in types
        for row in database_sizes(dbms_type, period, bucket="week", applications=owned).rows
    ]
    buckets = sorted({row["bucket"] for row in size_rows})
    series: dict[str, dict[str, float]] = defaultdict(dict)
    for row in size_rows:
        series[row["cluster"]][row["bucket"]] = row["size_gigs"]
    size_chart = _chart(
        "line",
        buckets,
        [
            {"label": name, "data": [points.get(b) for b in buckets]}
            for name, points in sorted(series.items())
        ],
        yLabel="GiB",
    )
    return Dashboard(applications, states, recent, size_chart)


def _health(cluster) -> str:
    """Health from the servers' latest collection: healthy, degraded, down or unknown."""
    if cluster.servers_failing and not cluster.servers_ok:
        return "down"
    if cluster.servers_failing:
        return "degraded"
    if cluster.servers_ok and cluster.servers_ok == cluster.server_count:
        return "healthy"
    return "unknown"
