"""Planned vs unplanned failover (DESIGN §7): one rule for the collector, which sees primary
changes, and for the unplanned failovers report, which counts the Failover activities.

Planned work covers a cluster:
- during a maintenance window: a planned outage of the cluster, from its Down until the Up that
  closes it, paired exactly as downtime pairs them (`downtime.outages_from_events`);
- while another app works on the cluster on purpose. Such an app declares it in
  `<app>/planned_work.py` as `cluster_windows(cluster_ids, since, until)`, returning
  `(cluster_id, start, end or None while it lasts)` for its work overlapping [since, until]
  (patching: a real patch run working on the cluster). Activities never reads their tables.

A window covers the moments start ≤ t < end (an Up at t means the cluster is back at t).

- A recorded Failover is unplanned when it is not marked planned (after corrections; not marked
  at all counts as unplanned) and no planned work covered its cluster when it occurred.
- A primary change the collector saw between two collections, [since, until], needs a new
  (unplanned) Failover activity when no planned work covered any moment of that window and no
  Patch, Switchover or Failover activity of the cluster in the window already accounts for it.

The rule itself is free of the database, like downtime.py; `planned_work` feeds it from SQL.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

from rocketdbaas.activities.downtime import DowntimeEvent, outages_from_events
from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.activities.services import downtime_event_rows
from rocketdbaas.core.plugins import app_modules

# Activities that account for a change of primary, so the collector does not record it again.
ROLE_CHANGE_RECORDS = (ActivityType.PATCH, ActivityType.SWITCHOVER, ActivityType.FAILOVER)


@dataclass(frozen=True)
class PlannedWindow:
    start: datetime
    end: datetime | None  # None: still going on


def covers(windows: Iterable[PlannedWindow], since: datetime, until: datetime | None = None) -> bool:
    """Whether planned work covered some moment of [since, until] (a single moment: until None)."""
    until = since if until is None else until
    return any(w.start <= until and (w.end is None or w.end > since) for w in windows)


def is_unplanned(marked_planned: bool | None, at: datetime, windows: Iterable[PlannedWindow]) -> bool:
    """A recorded failover's verdict: not marked planned, and no planned work at that moment."""
    return marked_planned is not True and not covers(windows, at)


def needs_failover_record(
    since: datetime, until: datetime, windows: Iterable[PlannedWindow], recorded: Iterable[datetime]
) -> bool:
    """A primary change seen somewhere in [since, until]: whether to record an unplanned Failover."""
    return not covers(windows, since, until) and not any(since <= at <= until for at in recorded)


def maintenance_windows(events: Iterable[DowntimeEvent]) -> list[PlannedWindow]:
    """A cluster's planned outages (its Down/Up events in order) as planned windows."""
    # Open outages become windows without an end, so where outages_from_events cuts them is moot.
    outages = outages_from_events(events, until=datetime.max.replace(tzinfo=UTC))
    return [PlannedWindow(o.start, o.end if o.resolved else None) for o in outages if o.planned]


# ---------------------------------------------------------------------------------- from SQL


def planned_work(
    cluster_ids: Iterable[int], since: datetime, until: datetime
) -> dict[int, list[PlannedWindow]]:
    """Each cluster's planned windows that may overlap [since, until]. One query for the
    maintenance windows plus one per app that declares planned work, whatever the clusters."""
    ids = sorted(set(cluster_ids))
    windows: dict[int, list[PlannedWindow]] = defaultdict(list)
    if not ids:
        return windows
    # A Down at `until` itself opens a window that covers `until`.
    rows = downtime_event_rows(None, until + timedelta(microseconds=1), since, ids)
    events: dict[int, list[DowntimeEvent]] = defaultdict(list)
    for cluster_id, occurred_at, kind, server_id, planned in rows:
        events[cluster_id].append(
            DowntimeEvent(occurred_at, kind == ActivityType.DOWN, server_id, bool(planned))
        )
    for cluster_id, cluster_events in events.items():
        windows[cluster_id].extend(maintenance_windows(cluster_events))
    for _app, module in app_modules("planned_work"):
        for cluster_id, start, end in module.cluster_windows(ids, since, until):
            windows[cluster_id].append(PlannedWindow(start, end))
    return windows


def unplanned(failovers: QuerySet[Activity]) -> QuerySet[Activity]:
    """The unplanned ones of `failovers` (an `activity_queryset` of Failovers, so with
    `effective_planned`), still a queryset for the caller to aggregate."""
    not_marked = failovers.filter(Q(effective_planned=False) | Q(effective_planned__isnull=True))
    rows = list(not_marked.order_by().values_list("pk", "cluster_id", "occurred_at"))
    if not rows:
        return not_marked
    work = planned_work(
        (cluster_id for _, cluster_id, _ in rows if cluster_id is not None),
        min(at for _, _, at in rows),
        max(at for _, _, at in rows),
    )
    covered = [
        pk for pk, cluster_id, at in rows if cluster_id is not None and covers(work.get(cluster_id, []), at)
    ]
    return not_marked.exclude(pk__in=covered)


def unexplained_promotions(seen: Mapping[int, tuple[datetime, datetime]]) -> set[int]:
    """The clusters (of `seen`: cluster id → the window [since, until] a new primary appeared in)
    whose change of primary is an unplanned failover still to be recorded."""
    if not seen:
        return set()
    since = min(s for s, _ in seen.values())
    until = max(u for _, u in seen.values())
    work = planned_work(seen, since, until)
    recorded: dict[int, list[datetime]] = defaultdict(list)
    for cluster_id, at in Activity.objects.filter(
        cluster_id__in=list(seen),
        type__in=ROLE_CHANGE_RECORDS,
        occurred_at__gte=since,
        occurred_at__lte=until,
    ).values_list("cluster_id", "occurred_at"):
        recorded[cluster_id].append(at)
    return {
        cluster_id
        for cluster_id, (s, u) in seen.items()
        if needs_failover_record(s, u, work.get(cluster_id, []), recorded[cluster_id])
    }
