from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rocketdbaas.activities.downtime import DowntimeEvent, outages_from_events, summarize
from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.activities.services import downtime_for_clusters, month_bounds, record_activity
from rocketdbaas.activities.tests.conftest import make_cluster

NOV_START, NOV_END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
OCT_START = datetime(2026, 10, 1, tzinfo=UTC)
NOV_MINUTES = 30 * 24 * 60


def at(day, hour, minute=0, month=11):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def log(cluster, kind, when, server=None, planned=False):
    return record_activity(
        dbms_type=cluster.dbms_type,
        type=kind,
        summary=f"{kind} {cluster.name}",
        cluster=cluster,
        server=server,
        planned=planned,
        occurred_at=when,
    )


NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def one(cluster, start=NOV_START, end=NOV_END, now=NOW):
    (result,) = downtime_for_clusters(cluster.dbms_type, start, end, [cluster.pk], now=now)
    return result


# --- hand-worked examples ---------------------------------------------------------------------


def test_outage_across_a_month_boundary_is_split_and_counted_once_for_mttr(orders):
    log(orders, ActivityType.DOWN, at(31, 23, month=10))
    log(orders, ActivityType.UP, at(1, 1))
    nov = one(orders)
    assert nov.downtime_minutes == 60 and nov.unplanned_minutes == 60 and nov.planned_minutes == 0
    assert nov.resolved_incidents == 1 and nov.mttr_minutes == 120  # its whole length
    assert nov.unplanned_availability == pytest.approx(1 - 60 / NOV_MINUTES)
    assert nov.period_minutes == NOV_MINUTES
    octo = one(orders, OCT_START, NOV_START)
    assert octo.downtime_minutes == 60 and octo.incidents == 1
    assert octo.resolved_incidents == 0 and octo.mttr_minutes is None and not octo.ongoing


def test_overlapping_outages_count_once(orders):
    s1, s2 = orders.servers.order_by("name")
    log(orders, ActivityType.DOWN, at(3, 10, 0), s1)
    log(orders, ActivityType.DOWN, at(3, 10, 15), s2)
    log(orders, ActivityType.UP, at(3, 10, 30), s1)
    log(orders, ActivityType.UP, at(3, 10, 45), s2)
    result = one(orders)
    assert result.downtime_minutes == 45  # union, not 30 + 30
    assert result.incidents == 1 and result.mttr_minutes == 45


def test_open_incident_counts_until_now_and_is_ongoing(orders):
    log(orders, ActivityType.DOWN, at(20, 12))
    result = one(orders, now=at(21, 12))
    assert result.downtime_minutes == 24 * 60
    assert result.ongoing and result.ongoing_since == at(20, 12)
    assert result.resolved_incidents == 0 and result.mttr_minutes is None
    assert result.intervals[-1].ongoing and result.intervals[-1].end == at(21, 12)


def test_open_incident_in_a_past_month_counts_to_the_period_end(orders):
    log(orders, ActivityType.DOWN, at(31, 23, month=10))
    octo = one(orders, OCT_START, NOV_START, now=at(21, 12))
    assert octo.downtime_minutes == 60 and octo.ongoing


def test_planned_windows_are_reported_apart(orders):
    log(orders, ActivityType.DOWN, at(5, 2), planned=True)
    log(orders, ActivityType.UP, at(5, 3), planned=True)
    log(orders, ActivityType.DOWN, at(6, 10))
    log(orders, ActivityType.UP, at(6, 10, 30))
    result = one(orders)
    assert (result.planned_minutes, result.unplanned_minutes, result.downtime_minutes) == (60, 30, 90)
    assert result.unplanned_availability == pytest.approx(1 - 30 / (NOV_MINUTES - 60))
    assert result.overall_availability == pytest.approx(1 - 90 / NOV_MINUTES)
    assert result.incidents == 1 and result.mttr_minutes == 30  # planned work is no incident
    assert [(i.planned, i.start) for i in result.intervals] == [(True, at(5, 2)), (False, at(6, 10))]


def test_unplanned_time_inside_a_planned_window_is_planned(orders):
    s1, s2 = orders.servers.order_by("name")
    log(orders, ActivityType.DOWN, at(5, 2), s1, planned=True)
    log(orders, ActivityType.DOWN, at(5, 3), s2)
    log(orders, ActivityType.UP, at(5, 4), s1)
    log(orders, ActivityType.UP, at(5, 5), s2)
    result = one(orders)
    assert (result.downtime_minutes, result.planned_minutes, result.unplanned_minutes) == (180, 120, 60)
    assert [(i.start, i.end, i.planned) for i in result.intervals] == [
        (at(5, 2), at(5, 4), True),
        (at(5, 4), at(5, 5), False),
    ]


def test_pairing_rules(orders):
    s1, s2 = orders.servers.order_by("name")
    log(orders, ActivityType.UP, at(2, 9))  # nothing open: ignored
    log(orders, ActivityType.DOWN, at(2, 10, 0))
    log(orders, ActivityType.DOWN, at(2, 10, 10))  # same outage reported again
    log(orders, ActivityType.UP, at(2, 10, 20))
    log(orders, ActivityType.DOWN, at(3, 10, 0), s1)
    log(orders, ActivityType.DOWN, at(3, 10, 5), s2)
    log(orders, ActivityType.UP, at(3, 10, 30))  # whole cluster back: closes both
    log(orders, ActivityType.DOWN, at(4, 10, 0))
    log(orders, ActivityType.UP, at(4, 10, 40), s1)  # a server answering ends a cluster outage
    result = one(orders)
    assert result.downtime_minutes == 20 + 30 + 40
    assert result.incidents == 3 and not result.ongoing


def test_correction_to_planned_changes_the_split(orders):
    down = log(orders, ActivityType.DOWN, at(7, 1))
    log(orders, ActivityType.UP, at(7, 2))
    assert one(orders).unplanned_minutes == 60
    Activity.objects.create(
        dbms_type="postgresql",
        type=ActivityType.CORRECTION,
        cluster=orders,
        occurred_at=at(8, 0),
        planned=True,
        summary="was the announced window",
        corrects=down,
    )
    result = one(orders)
    assert (result.planned_minutes, result.unplanned_minutes) == (60, 0)


def test_other_clusters_and_types_do_not_leak(orders, billing, mongo_cluster):
    log(billing, ActivityType.DOWN, at(2, 10))
    log(mongo_cluster, ActivityType.DOWN, at(2, 10))
    log(orders, ActivityType.FAILOVER, at(2, 10))
    assert one(orders).downtime_minutes == 0
    results = {
        r.cluster_name: r for r in downtime_for_clusters("postgresql", NOV_START, NOV_END, now=at(3, 10))
    }
    assert set(results) == {"pg-orders", "pg-billing"}
    assert (
        results["pg-billing"].downtime_minutes == 24 * 60 and results["pg-orders"].overall_availability == 1
    )


def test_future_period_is_clean(orders):
    log(orders, ActivityType.DOWN, at(20, 12))
    dec = one(orders, NOV_END, datetime(2027, 1, 1, tzinfo=UTC), now=at(21, 12))
    assert dec.downtime_minutes == 0 and not dec.ongoing


def test_all_clusters_cost_the_same_queries_as_one(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clusters = [make_cluster(f"pg-c{i}") for i in range(6)]
    for i, cluster in enumerate(clusters):
        log(cluster, ActivityType.DOWN, at(2, i))
        log(cluster, ActivityType.UP, at(2, i) + timedelta(minutes=10 * (i + 1)))
    with CaptureQueriesContext(connection) as one_cluster:
        downtime_for_clusters("postgresql", NOV_START, NOV_END, [clusters[0].pk], now=at(3, 0))
    with CaptureQueriesContext(connection) as all_clusters:
        results = downtime_for_clusters("postgresql", NOV_START, NOV_END, now=at(3, 0))
    assert [r.downtime_minutes for r in results] == [10, 20, 30, 40, 50, 60]
    # (SET LOCAL / SAVEPOINT around them on PostgreSQL; the stream is a DECLARE … CURSOR FOR SELECT)
    selects = [q for q in all_clusters.captured_queries if "SELECT" in q["sql"].upper()]
    assert len(selects) == 2  # the clusters, then one ordered stream of their events
    assert len(all_clusters) == len(one_cluster)


def test_month_bounds():
    assert month_bounds("2026-02") == (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert month_bounds("2024-12")[1] == datetime(2025, 1, 1, tzinfo=UTC)
    assert month_bounds(None, now=at(15, 3)) == (NOV_START, NOV_END)


# --- API --------------------------------------------------------------------------------------

URL = "/api/postgresql/activities/downtime"


def test_downtime_api_for_one_cluster(viewer_api, orders):
    log(orders, ActivityType.DOWN, datetime(2025, 3, 10, 8, tzinfo=UTC))
    log(orders, ActivityType.UP, datetime(2025, 3, 10, 9, 30, tzinfo=UTC))
    response = viewer_api.get(URL, cluster="pg-orders", period="2025-03")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == "2025-03" and body["periodStart"].startswith("2025-03-01T00:00:00")
    (row,) = body["clusters"]
    assert row["cluster"] == "pg-orders" and row["downtimeMinutes"] == 90 and row["mttrMinutes"] == 90
    assert row["unplannedAvailability"] == pytest.approx(1 - 90 / (31 * 1440))
    assert row["intervals"] == [
        {"start": "2025-03-10T08:00:00Z", "end": "2025-03-10T09:30:00Z", "planned": False, "ongoing": False}
    ]


def test_downtime_api_all_clusters_and_ongoing(viewer_api, orders, billing):
    log(billing, ActivityType.DOWN, datetime(2025, 3, 31, 23, tzinfo=UTC))
    body = viewer_api.get(URL, period="2025-03").json()
    rows = {r["cluster"]: r for r in body["clusters"]}
    assert set(rows) == {"pg-orders", "pg-billing"}
    assert rows["pg-billing"]["ongoing"] and rows["pg-billing"]["downtimeMinutes"] == 60
    assert rows["pg-orders"]["overallAvailability"] == 1


def test_downtime_api_bad_inputs(viewer_api, orders):
    for period in ("2025-13", "2025", "march", "2025-3-1", "0000-01", "9999-12"):
        assert viewer_api.get(URL, period=period).status_code == 422, period
    response = viewer_api.get(URL, cluster="pg-nowhere")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/problem+json")
    assert viewer_api.get("/api/db2/activities/downtime").status_code == 404


def test_owner_gets_only_own_clusters(owner_api, owner_user, orders, billing):
    orders.application.owners.add(owner_user)
    body = owner_api.get(URL, period="2025-03").json()
    assert [r["cluster"] for r in body["clusters"]] == ["pg-orders"]
    assert owner_api.get(URL, cluster="pg-billing").status_code == 404


# --- properties -------------------------------------------------------------------------------

DAY = 24 * 60
P_START = datetime(2026, 11, 1, tzinfo=UTC)
P_END = P_START + timedelta(minutes=DAY)


@st.composite
def event_lists(draw):
    """Events at whole minutes from a day before the period to a day after it."""
    n = draw(st.integers(0, 14))
    raw = draw(
        st.lists(
            st.tuples(
                st.integers(-DAY, 2 * DAY), st.booleans(), st.sampled_from([None, 1, 2, 3]), st.booleans()
            ),
            min_size=n,
            max_size=n,
        )
    )
    raw.sort(key=lambda e: e[0])
    now_minute = draw(st.integers(max([e[0] for e in raw], default=-DAY), 3 * DAY))
    events = [
        DowntimeEvent(P_START + timedelta(minutes=m), is_down, server, planned)
        for m, is_down, server, planned in raw
    ]
    return events, P_START + timedelta(minutes=now_minute)


def oracle_minutes(events, now):
    """Independent check: replay the pairing rules minute by minute and count down minutes."""
    down = planned = 0
    open_keys: dict = {}
    queue = list(events)
    for minute in range(-DAY, DAY):
        t = P_START + timedelta(minutes=minute)
        while queue and queue[0].occurred_at <= t:
            e = queue.pop(0)
            if e.is_down:
                open_keys.setdefault(e.server_id, e.planned)
            elif e.server_id is None:
                open_keys.clear()
            else:
                open_keys.pop(e.server_id, None)
                open_keys.pop(None, None)
        if minute < 0 or t >= now:
            continue
        if open_keys:
            down += 1
            planned += any(open_keys.values())
    return down, planned


@settings(max_examples=300, deadline=None, derandomize=True)
@given(event_lists())
def test_downtime_properties(case):
    events, now = case
    result = summarize(1, "c", events, P_START, P_END, now)
    d, p, u, t = (
        result.downtime_minutes,
        result.planned_minutes,
        result.unplanned_minutes,
        result.period_minutes,
    )
    assert 0 <= u <= t and 0 <= p <= t and 0 <= d <= t
    assert u + p == pytest.approx(d)
    assert 0 <= result.overall_availability <= 1
    assert result.unplanned_availability is None or 0 <= result.unplanned_availability <= 1
    # union <= sum of the clipped outages
    clipped_sum = sum(
        max(timedelta(), min(o.end, P_END) - max(o.start, P_START)).total_seconds() / 60
        for o in outages_from_events(events, min(now, P_END))
    )
    assert d <= clipped_sum + 1e-9
    assert sum((i.end - i.start).total_seconds() / 60 for i in result.intervals) == pytest.approx(d)
    assert (d, p) == oracle_minutes(events, now)
    assert result.mttr_minutes is None or result.mttr_minutes > 0


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(st.integers(-90, 40), st.sampled_from(["down", "up", "up-all"]), st.booleans()), max_size=20
    )
)
def test_sql_history_pruning_matches_the_full_replay(orders, raw):
    """The window function that skips old history never changes a result."""
    s1 = orders.servers.order_by("name").first()
    now = at(28, 0)
    with transaction.atomic():
        events = []
        for day, kind, with_server in sorted(raw, key=lambda r: r[0]):
            when = NOV_START + timedelta(days=day, hours=abs(day) % 24)
            server = s1 if with_server and kind != "up-all" else None
            is_down = kind == "down"
            log(orders, ActivityType.DOWN if is_down else ActivityType.UP, when, server)
            events.append(DowntimeEvent(when, is_down, server.pk if server else None, False))
        got = one(orders, now=now)
        expected = summarize(orders.pk, orders.name, events, NOV_START, NOV_END, now)
        transaction.set_rollback(True)
    assert got == expected
