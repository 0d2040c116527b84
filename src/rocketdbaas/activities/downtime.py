"""Downtime interval algebra (DESIGN §7), free of the database so it can be reasoned about and
property-tested on its own. `activities.services.downtime_for_clusters` feeds it from SQL.

How Down/Up activities become outages:
- Outages are tracked per key: the server a Down names, or the whole cluster when it names none.
- A Down opens an outage for its key unless one is already open (a repeated report of the same
  outage changes nothing).
- An Up naming a server closes that server's outage and any whole-cluster outage (the cluster
  answers again); an Up naming no server closes every open outage of the cluster. An Up with
  nothing open is ignored.
- An outage still open is counted until `now` (or the period's end, if sooner) and is ongoing.
- An outage is planned when the Down that opened it is planned (after corrections).

Per period: outages are clipped to [start, end), their union D is the downtime (overlaps count
once), P is the union of the planned ones, and U = |D| - |P| is the unplanned downtime (time
inside a planned window is never also unplanned). T is the period's length.
  unplanned availability = 1 - U / (T - P)   (None when the whole period was planned downtime)
  overall availability   = 1 - (U + P) / T
Incidents are overlapping unplanned outages joined together; MTTR averages the full (unclipped)
length of those resolved inside the period, so each incident counts in exactly one month.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class DowntimeEvent:
    """One Down or Up activity of a cluster, in occurrence order."""

    occurred_at: datetime
    is_down: bool
    server_id: int | None
    planned: bool = False


@dataclass(frozen=True)
class Outage:
    start: datetime
    end: datetime
    planned: bool
    resolved: bool


@dataclass(frozen=True)
class DowntimeInterval:
    """A stretch of downtime inside the period, planned or not (what a timeline chart draws)."""

    start: datetime
    end: datetime
    planned: bool
    ongoing: bool


@dataclass
class DowntimeResult:
    """Downtime of one cluster over one period. Minutes are floats; availabilities are 0..1."""

    cluster_id: int
    cluster_name: str
    period_start: datetime
    period_end: datetime
    period_minutes: float
    downtime_minutes: float
    unplanned_minutes: float
    planned_minutes: float
    unplanned_availability: float | None
    overall_availability: float
    incidents: int
    resolved_incidents: int
    mttr_minutes: float | None
    ongoing: bool
    ongoing_since: datetime | None
    intervals: list[DowntimeInterval] = field(default_factory=list)


def outages_from_events(events: Iterable[DowntimeEvent], until: datetime) -> list[Outage]:
    """Pair Downs with Ups (rules in the module docstring); open outages end at `until`."""
    open_by_key: dict[int | None, tuple[datetime, bool]] = {}
    outages: list[Outage] = []
    for event in events:
        if event.is_down:
            open_by_key.setdefault(event.server_id, (event.occurred_at, event.planned))
            continue
        keys = list(open_by_key) if event.server_id is None else [event.server_id, None]
        for key in keys:
            opened = open_by_key.pop(key, None)
            if opened is not None:
                outages.append(Outage(opened[0], event.occurred_at, opened[1], resolved=True))
    for start, planned in open_by_key.values():
        outages.append(Outage(start, max(start, until), planned, resolved=False))
    return outages


def merge(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Union of half-open spans; touching spans join (no instant of uptime between them)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(
    spans: Sequence[tuple[datetime, datetime]], holes: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Parts of merged `spans` not covered by merged `holes`."""
    out = []
    for start, end in spans:
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                out.append((cursor, h_start))
            cursor = max(cursor, h_end)
        if cursor < end:
            out.append((cursor, end))
    return out


def total(spans: Iterable[tuple[datetime, datetime]]) -> timedelta:
    return sum((end - start for start, end in spans), timedelta())


def _clip(
    outages: Iterable[Outage], period_start: datetime, period_end: datetime
) -> list[tuple[datetime, datetime]]:
    clipped = []
    for outage in outages:
        start, end = max(outage.start, period_start), min(outage.end, period_end)
        if end > start:
            clipped.append((start, end))
    return clipped


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def summarize(
    cluster_id: int,
    cluster_name: str,
    events: Sequence[DowntimeEvent],
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> DowntimeResult:
    """The DowntimeResult of one cluster from its Down/Up events (ordered by time, then id)."""
    until = min(now, period_end)
    outages = outages_from_events(events, until)

    down = merge(_clip(outages, period_start, period_end))
    planned = merge(_clip((o for o in outages if o.planned), period_start, period_end))
    d_total, p_total = total(down), total(planned)
    u_total = d_total - p_total
    t_total = period_end - period_start

    unresolved = [o for o in outages if not o.resolved and o.start < period_end and o.end >= period_start]
    ongoing_since = min((o.start for o in unresolved), default=None)

    # Incidents: overlapping unplanned outages joined, each resolved when none of its outages
    # is still open. Outages that only touch (an Up and a new Down at the same instant) stay
    # separate incidents, so history the SQL skips (everything closed before the period) never
    # changes an incident that reaches into the period.
    incidents: list[tuple[datetime, datetime, bool]] = []
    # An Up at the very instant of its Down is no incident: nothing was down for any time.
    unplanned = [o for o in outages if not o.planned and (o.end > o.start or not o.resolved)]
    for start, end, resolved in sorted((o.start, o.end, o.resolved) for o in unplanned):
        if incidents and start < incidents[-1][1]:
            last = incidents[-1]
            incidents[-1] = (last[0], max(last[1], end), last[2] and resolved)
        else:
            incidents.append((start, end, resolved))
    in_period = [i for i in incidents if i[0] < period_end and i[1] > period_start]
    resolved_here = [i for i in incidents if i[2] and period_start < i[1] <= period_end]
    mttr = (
        _minutes(total((s, e) for s, e, _ in resolved_here)) / len(resolved_here) if resolved_here else None
    )

    pieces = [(s, e, True) for s, e in planned] + [(s, e, False) for s, e in subtract(down, planned)]
    intervals = [
        DowntimeInterval(s, e, is_planned, any(o.start < e and o.end == e for o in unresolved))
        for s, e, is_planned in sorted(pieces)
    ]

    return DowntimeResult(
        cluster_id=cluster_id,
        cluster_name=cluster_name,
        period_start=period_start,
        period_end=period_end,
        period_minutes=_minutes(t_total),
        downtime_minutes=_minutes(d_total),
        unplanned_minutes=_minutes(u_total),
        planned_minutes=_minutes(p_total),
        unplanned_availability=(1 - u_total / (t_total - p_total)) if t_total > p_total else None,
        overall_availability=1 - d_total / t_total,
        incidents=len(in_period),
        resolved_incidents=len(resolved_here),
        mttr_minutes=mttr,
        ongoing=bool(unresolved),
        ongoing_since=ongoing_since,
        intervals=intervals,
    )
