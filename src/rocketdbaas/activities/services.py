"""The audit log: recording activities and corrections, listing them, and downtime."""

import calendar
import itertools
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import Case, Count, F, Max, Min, OuterRef, Q, QuerySet, Subquery, Value, When, Window
from django.db.models.functions import Coalesce
from django.utils import timezone

from rocketdbaas.activities.downtime import DowntimeEvent, DowntimeResult, summarize
from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.core.errors import Invalid, NotFound
from rocketdbaas.core.middleware import current_request_id
from rocketdbaas.inventory.models import Cluster, Server

__all__ = [
    "ClusterActivities",
    "DowntimeResult",
    "NewActivity",
    "activity_queryset",
    "add_correction",
    "check_ticket_url",
    "cluster_activities",
    "corrections_of",
    "downtime_for_clusters",
    "filtered_activities",
    "get_activity",
    "month_bounds",
    "no_jit",
    "record_activities",
    "record_activity",
    "visible_cluster",
    "visible_cluster_ids",
]

# Clocks drift; an activity "from the future" beyond this is a mistake, not skew.
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_BULK = 1000
RECENT_ON_CLUSTER_PAGE = 20
_ticket_url_validator = URLValidator(schemes=["http", "https"])


def record_activity(
    *,
    dbms_type: str,
    type: ActivityType,
    summary: str,
    cluster=None,
    server=None,
    user=None,
    planned: bool | None = True,
    details: dict | None = None,
    occurred_at=None,
    ticket_url: str = "",
) -> Activity:
    """Append one audit row; call it inside the transaction of the change it records."""
    return Activity.objects.create(
        dbms_type=dbms_type,
        type=type,
        summary=summary[:500],
        cluster=cluster,
        server=server,
        recorded_by=user if user is not None and user.is_authenticated else None,
        planned=planned,
        details=details or {},
        occurred_at=occurred_at or timezone.now(),
        ticket_url=ticket_url,
        request_id=current_request_id(),
    )


@contextmanager
def no_jit():
    """Run fleet-wide report queries without PostgreSQL's JIT compiler.

    Their cost estimates are high (a correlated lookup per row) while the real work is a few
    hundred milliseconds; compiling them took longer than running them (measured: 1.5 s of JIT
    for a 0.3 s query).
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


@dataclass
class NewActivity:
    """An activity as a person or a tool reports it (names, not ids)."""

    summary: str
    type: str | None = None
    cluster: str | None = None
    server: str | None = None
    occurred_at: datetime | None = None
    planned: bool | None = None
    ticket_url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    corrects: int | None = None


def check_ticket_url(url: str | None) -> str | None:
    """The problem with a ticket link, or None when it is fine (empty is fine)."""
    if not url:
        return None
    if len(url) > 500:
        return "The ticket URL is longer than 500 characters."
    try:
        _ticket_url_validator(url)
    except ValidationError:
        return "Enter a valid http(s) URL for the ticket."
    return None


def _corrections_of_outer() -> QuerySet:
    return Activity.objects.filter(corrects=OuterRef("pk")).order_by("-id")


def activity_queryset(dbms_type: str | None = None, user=None) -> QuerySet:
    """Activities with what corrections changed: effective_ticket_url (the latest link),
    effective_planned and correction_count, all computed in SQL."""
    corrections = _corrections_of_outer()
    qs = Activity.objects.select_related("cluster", "server", "recorded_by").annotate(
        effective_ticket_url=Coalesce(
            Subquery(corrections.exclude(ticket_url="").values("ticket_url")[:1]), F("ticket_url")
        ),
        effective_planned=Coalesce(
            Subquery(corrections.filter(planned__isnull=False).values("planned")[:1]), F("planned")
        ),
        correction_count=Coalesce(
            Subquery(
                Activity.objects.filter(corrects=OuterRef("pk"))
                .order_by()
                .values("corrects")
                .annotate(n=Count("pk"))
                .values("n")[:1]
            ),
            Value(0),
        ),
    )
    if dbms_type is not None:
        qs = qs.filter(dbms_type=dbms_type)
    return qs.visible_to(user)


def visible_cluster(dbms_type: str, name: str, user) -> Cluster:
    """A cluster by name, as far as this user may see it (404 otherwise)."""
    cluster = Cluster.objects.visible_to(user).filter(dbms_type=dbms_type, name=name).first()
    if cluster is None:
        raise NotFound(f"No {dbms_type} cluster named {name!r}.")
    return cluster


def visible_cluster_ids(dbms_type: str, user) -> QuerySet:
    """The clusters of this type the user may see, as a subquery of primary keys."""
    return Cluster.objects.visible_to(user).filter(dbms_type=dbms_type).values("pk")


def filtered_activities(
    dbms_type: str,
    user,
    *,
    cluster: str | None = None,
    server: str | None = None,
    types: Sequence[str] | None = None,
    planned: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    has_ticket: bool | None = None,
    include_corrections: bool = False,
) -> QuerySet:
    """The list behind the API and the web page, newest first."""
    qs = activity_queryset(dbms_type, user)
    if cluster:
        qs = qs.filter(cluster=visible_cluster(dbms_type, cluster, user))
    if server:
        found = Server.objects.filter(dbms_type=dbms_type, name=server).first()
        if found is None:
            raise NotFound(f"No {dbms_type} server named {server!r}.")
        qs = qs.filter(server=found)
    if types:
        qs = qs.filter(type__in=types)
    if not include_corrections and not (types and ActivityType.CORRECTION in types):
        qs = qs.filter(corrects__isnull=True)
    if planned is not None:
        qs = qs.filter(effective_planned=planned)
    if since:
        qs = qs.filter(occurred_at__gte=since)
    if until:
        qs = qs.filter(occurred_at__lt=until)
    if has_ticket is True:
        qs = qs.exclude(effective_ticket_url="")
    elif has_ticket is False:
        qs = qs.filter(effective_ticket_url="")
    return qs.order_by("-occurred_at", "-id")


def get_activity(dbms_type: str, pk: int, user) -> Activity:
    activity = activity_queryset(dbms_type, user).filter(pk=pk).first()
    if activity is None:
        raise NotFound(f"No {dbms_type} activity with id {pk}.")
    return activity


def corrections_of(activity: Activity) -> list[Activity]:
    return list(activity_queryset().filter(corrects=activity).order_by("id"))


def _validate(
    dbms_type: str,
    items: Sequence[NewActivity],
    clusters: dict[str, Cluster],
    servers: dict[str, Server],
    originals: dict[int, Activity],
    now: datetime,
    prefix,
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []

    def err(i: int, name: str, message: str) -> None:
        errors.append({"field": prefix(i, name), "message": message})

    for i, item in enumerate(items):
        if not item.summary or not item.summary.strip():
            err(i, "summary", "A summary is required.")
        elif len(item.summary) > 500:
            err(i, "summary", "The summary is longer than 500 characters.")
        if (problem := check_ticket_url(item.ticket_url)) is not None:
            err(i, "ticketUrl", problem)
        if item.occurred_at is not None:
            if timezone.is_naive(item.occurred_at):
                err(i, "occurredAt", "Give the time with a timezone (ISO 8601, e.g. ...Z).")
            elif item.occurred_at > now + FUTURE_TOLERANCE:
                err(i, "occurredAt", "An activity cannot have happened in the future.")
        if item.cluster and item.cluster not in clusters:
            err(i, "cluster", f"No {dbms_type} cluster named {item.cluster!r}.")
        if item.server and item.server not in servers:
            err(i, "server", f"No {dbms_type} server named {item.server!r}.")
        if item.cluster in clusters and item.server in servers:
            server = servers[item.server]
            if server.cluster_id is not None and server.cluster_id != clusters[item.cluster].pk:
                err(i, "server", f"Server {item.server!r} is not in cluster {item.cluster!r}.")

        if item.corrects is not None:
            original = originals.get(item.corrects)
            if original is None:
                err(i, "corrects", f"No {dbms_type} activity with id {item.corrects}.")
                continue
            if item.type not in (None, ActivityType.CORRECTION):
                err(i, "type", "A correction's type is Correction (or leave it out).")
            if item.cluster and original.cluster is not None and item.cluster != original.cluster.name:
                err(i, "cluster", "A correction belongs to the cluster of the activity it corrects.")
            continue

        if item.type is None:
            err(i, "type", "The activity type is required.")
        elif item.type == ActivityType.CORRECTION:
            err(i, "corrects", "A correction must name the activity it corrects.")
        elif item.type not in ActivityType.values:
            err(i, "type", f"Unknown activity type {item.type!r}.")
        if not item.cluster and not item.server:
            err(i, "cluster", "Name the cluster (or the server) the activity happened to.")
        if item.type in (ActivityType.DOWN, ActivityType.UP) and not item.cluster:
            found = servers.get(item.server or "")
            if found is None or found.cluster_id is None:
                err(i, "cluster", "Down and Up activities need the cluster, for downtime.")
    return errors


def record_activities(*, dbms_type: str, items: Sequence[NewActivity], user, prefix=None) -> list[Activity]:
    """Record a batch of activities (or corrections) all-or-nothing; return them annotated."""
    if not items:
        raise Invalid("Send at least one activity.")
    if len(items) > MAX_BULK:
        raise Invalid(f"Send at most {MAX_BULK} activities at once.")
    prefix = prefix or (lambda i, name: f"{i}.{name}" if len(items) > 1 else name)
    now = timezone.now()
    cluster_names = {i.cluster for i in items if i.cluster}
    server_names = {i.server for i in items if i.server}
    clusters = {c.name: c for c in Cluster.objects.filter(dbms_type=dbms_type, name__in=cluster_names)}
    servers = {
        s.name: s
        for s in Server.objects.filter(dbms_type=dbms_type, name__in=server_names).select_related("cluster")
    }
    originals = {
        a.pk: a
        for a in Activity.objects.visible_to(user)
        .filter(dbms_type=dbms_type, pk__in={i.corrects for i in items if i.corrects})
        .select_related("cluster", "server", "corrects")
    }
    errors = _validate(dbms_type, items, clusters, servers, originals, now, prefix)
    if errors:
        raise Invalid("The activity is not valid." if len(items) == 1 else "Nothing was recorded.", errors)

    rows = []
    for item in items:
        original = originals.get(item.corrects) if item.corrects is not None else None
        if original is not None:
            # Corrections hang off the event itself, so "the latest ticket" is one lookup.
            root = original.corrects if original.corrects_id else original
            rows.append(
                Activity(
                    dbms_type=dbms_type,
                    type=ActivityType.CORRECTION,
                    cluster=root.cluster,
                    server=root.server,
                    occurred_at=now,
                    planned=item.planned,
                    ticket_url=item.ticket_url or "",
                    summary=item.summary.strip(),
                    details=item.details or {},
                    corrects=root,
                    recorded_by=user if user is not None and user.is_authenticated else None,
                    request_id=current_request_id(),
                )
            )
            continue
        assert item.type is not None  # _validate refused a missing type
        server = servers.get(item.server) if item.server else None
        cluster = clusters.get(item.cluster) if item.cluster else (server.cluster if server else None)
        rows.append(
            Activity(
                dbms_type=dbms_type,
                type=item.type,
                cluster=cluster,
                server=server,
                occurred_at=item.occurred_at or now,
                planned=item.planned,
                ticket_url=item.ticket_url or "",
                summary=item.summary.strip(),
                details=item.details or {},
                recorded_by=user if user is not None and user.is_authenticated else None,
                request_id=current_request_id(),
            )
        )
    with transaction.atomic():
        created = Activity.objects.bulk_create(rows)
    ids = [a.pk for a in created]
    by_id = {a.pk: a for a in activity_queryset().filter(pk__in=ids)}
    return [by_id[i] for i in ids]


def add_correction(
    *,
    dbms_type: str,
    activity_id: int,
    user,
    summary: str,
    ticket_url: str | None = None,
    planned: bool | None = None,
    details: dict | None = None,
) -> Activity:
    """Amend an activity by appending a correction (e.g. the ticket link of an outage)."""
    if not Activity.objects.visible_to(user).filter(dbms_type=dbms_type, pk=activity_id).exists():
        raise NotFound(f"No {dbms_type} activity with id {activity_id}.")
    item = NewActivity(
        summary=summary, ticket_url=ticket_url, planned=planned, details=details or {}, corrects=activity_id
    )
    return record_activities(dbms_type=dbms_type, items=[item], user=user, prefix=lambda i, n: n)[0]


@dataclass
class ClusterActivities:
    """A cluster's latest events (corrections folded in) and this month's availability."""

    cluster: Cluster
    activities: list[Activity]

    @cached_property
    def downtime(self) -> DowntimeResult:
        start, end = month_bounds(None)
        (result,) = downtime_for_clusters(self.cluster.dbms_type, start, end, [self.cluster.pk])
        return result

    @property
    def availability_pct(self) -> float:
        return round(self.downtime.overall_availability * 100, 3)

    @property
    def period(self) -> str:
        return f"{timezone.now():%Y-%m}"


def cluster_activities(cluster: Cluster) -> ClusterActivities:
    """The latest events of a cluster the caller may see, with their latest ticket (one query)."""
    recent = (
        activity_queryset()
        .filter(cluster=cluster, corrects__isnull=True)
        .order_by("-occurred_at", "-id")[:RECENT_ON_CLUSTER_PAGE]
    )
    return ClusterActivities(cluster, list(recent))


# --- downtime ---------------------------------------------------------------------------------


def month_bounds(period: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a UTC calendar month given as YYYY-MM (default: the current month)."""
    now = now or timezone.now()
    if not period:
        year, month = now.year, now.month
    else:
        try:
            year_s, month_s = period.split("-")
            year, month = int(year_s), int(month_s)
            if len(year_s) != 4 or not 1 <= month <= 12 or not 1970 <= year <= 2999:
                raise ValueError
        except ValueError:
            raise Invalid(
                "The period is a month as YYYY-MM, e.g. 2026-11.",
                [{"field": "period", "message": f"Not a month: {period!r}."}],
            ) from None
    start = datetime(year, month, 1, tzinfo=UTC)
    return start, start + timedelta(days=calendar.monthrange(year, month)[1])


def downtime_event_rows(dbms_type: str | None, period_end: datetime, period_start: datetime, cluster_ids):
    """Every cluster's relevant Down/Up events in one ordered query.

    Two window functions bound what is read, per cluster: history before the last whole-cluster
    Up preceding the period is skipped (that Up closed every outage, so nothing earlier reaches
    into the period), and after the period only the Ups that may close an outage still open at
    its end are read, up to the first whole-cluster Up.
    """
    latest_planned = Subquery(_corrections_of_outer().filter(planned__isnull=False).values("planned")[:1])
    whole_cluster_up = Q(type=ActivityType.UP, server__isnull=True)
    anchor = Window(
        Max("occurred_at", filter=whole_cluster_up & Q(occurred_at__lt=period_start)),
        partition_by=[F("cluster_id")],
    )
    closer = Window(
        Min("occurred_at", filter=whole_cluster_up & Q(occurred_at__gte=period_end)),
        partition_by=[F("cluster_id")],
    )
    qs = Activity.objects.filter(
        type__in=[ActivityType.DOWN, ActivityType.UP],
        corrects__isnull=True,
        cluster__isnull=False,
    )
    if dbms_type is not None:
        qs = qs.filter(dbms_type=dbms_type)
    if cluster_ids is not None:
        qs = qs.filter(cluster_id__in=cluster_ids)
    return (
        qs.annotate(
            anchor=anchor,
            closer=closer,
            # Only a Down's planned flag matters (it opens the outage).
            eff_planned=Case(
                When(type=ActivityType.DOWN, then=Coalesce(latest_planned, F("planned"), Value(False))),
                default=Value(False),
            ),
        )
        .filter(Q(anchor__isnull=True) | Q(occurred_at__gte=F("anchor")))
        .filter(
            Q(occurred_at__lt=period_end)
            | (Q(type=ActivityType.UP) & (Q(closer__isnull=True) | Q(occurred_at__lte=F("closer"))))
        )
        .order_by("cluster_id", "occurred_at", "id")
        .values_list("cluster_id", "occurred_at", "type", "server_id", "eff_planned")
    )


def downtime_for_clusters(
    dbms_type: str,
    period_start: datetime,
    period_end: datetime,
    cluster_ids: Sequence[int] | QuerySet | None = None,
    *,
    now: datetime | None = None,
) -> list[DowntimeResult]:
    """Downtime of each cluster of a type over [period_start, period_end), as DESIGN §7 defines it.

    Two queries whatever the number of clusters: the clusters, and one ordered stream of their
    Down/Up events. Clusters without events get a clean result (availability 1).
    """
    now = now or timezone.now()
    clusters_qs = Cluster.objects.filter(dbms_type=dbms_type)
    if cluster_ids is not None:
        clusters_qs = clusters_qs.filter(pk__in=cluster_ids)
    names = dict(clusters_qs.order_by("name").values_list("pk", "name"))
    events_by_cluster: dict[int, list[DowntimeEvent]] = {}
    rows = downtime_event_rows(dbms_type, period_end, period_start, cluster_ids)
    with no_jit():
        for cluster_id, group in itertools.groupby(rows.iterator(chunk_size=5000), key=lambda r: r[0]):
            events_by_cluster[cluster_id] = [
                DowntimeEvent(occurred_at, kind == ActivityType.DOWN, server_id, bool(planned))
                for _, occurred_at, kind, server_id, planned in group
            ]
    return [
        summarize(pk, name, events_by_cluster.get(pk, []), period_start, period_end, now)
        for pk, name in names.items()
    ]
