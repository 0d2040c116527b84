"""Planned vs unplanned failover: the rule of activities.failover, as properties."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rocketdbaas.activities.downtime import DowntimeEvent
from rocketdbaas.activities.failover import (
    PlannedWindow,
    covers,
    is_unplanned,
    maintenance_windows,
    needs_failover_record,
)
from rocketdbaas.activities.tests.test_downtime import DAY, P_START, event_lists

MINUTE = timedelta(minutes=1)


def minute(m):
    return P_START + m * MINUTE


def planned_open_minutes(events):
    """Independent oracle: replay the Down/Up pairing minute by minute; the minutes at which a
    planned outage is open (events at a minute count from that minute)."""
    open_keys: dict = {}
    queue = list(events)
    covered = set()
    for m in range(-DAY, 3 * DAY):
        while queue and queue[0].occurred_at <= minute(m):
            e = queue.pop(0)
            if e.is_down:
                open_keys.setdefault(e.server_id, e.planned)
            elif e.server_id is None:
                open_keys.clear()
            else:
                open_keys.pop(e.server_id, None)
                open_keys.pop(None, None)
        if any(open_keys.values()):
            covered.add(m)
    return covered


windows_strategy = st.lists(
    st.tuples(st.integers(-DAY, 2 * DAY), st.one_of(st.none(), st.integers(0, DAY))).map(
        lambda w: PlannedWindow(minute(w[0]), None if w[1] is None else minute(w[0] + w[1]))
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(event_lists())
def test_maintenance_windows_are_the_planned_outages_downtime_pairs(case):
    events, _now = case
    windows = maintenance_windows(events)
    oracle = planned_open_minutes(events)
    assert {m for m in range(-DAY, 3 * DAY) if covers(windows, minute(m))} == oracle


@settings(max_examples=300, deadline=None, derandomize=True)
@given(windows_strategy, st.integers(-DAY, 3 * DAY), st.integers(0, 120))
def test_a_window_is_covered_when_one_of_its_moments_is(windows, start, length):
    since, until = minute(start), minute(start + length)
    moments = (minute(m) for m in range(start, start + length + 1))
    assert covers(windows, since, until) == any(covers(windows, t) for t in moments)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(windows_strategy, windows_strategy, st.integers(-DAY, 3 * DAY), st.sampled_from([None, False, True]))
def test_collector_and_report_agree_and_more_planned_work_never_adds_failovers(windows, more, at, marked):
    t = minute(at)
    # The same unmarked event, seen by the collector at one moment and counted by the report.
    assert needs_failover_record(t, t, windows, []) == is_unplanned(None, t, windows)
    # Marked planned is never unplanned; planned work only ever takes failovers away.
    assert not is_unplanned(True, t, windows)
    if not is_unplanned(marked, t, windows):
        assert not is_unplanned(marked, t, windows + more)
    # Something already recorded in the window is never recorded again.
    assert not needs_failover_record(t, t + MINUTE, [], [t])


def test_an_unplanned_outage_is_no_maintenance_window():
    events = [DowntimeEvent(minute(0), True, None, False), DowntimeEvent(minute(60), False, None, False)]
    assert maintenance_windows(events) == []
    planned = [DowntimeEvent(minute(0), True, 7, True), DowntimeEvent(minute(60), False, None, False)]
    assert maintenance_windows(planned) == [PlannedWindow(minute(0), minute(60))]
    assert covers(maintenance_windows(planned), minute(0)) and not covers(
        maintenance_windows(planned), minute(60)
    )
