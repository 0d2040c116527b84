"""Report numbers against the hand-built fleet of conftest.py: unplanned failovers and downtime."""

from datetime import date

import pytest

from rocketdbaas.activities.models import ActivityType
from rocketdbaas.patching.models import PatchRecipe, PatchRun, PatchRunCluster, PatchType
from rocketdbaas.reports.periods import MonthRange
from rocketdbaas.reports.services import downtime_by_month, unplanned_failovers
from rocketdbaas.reports.tests.conftest import activity, at, correction

APRIL_JUNE = MonthRange(date(2026, 4, 1), date(2026, 6, 1))
NOW = at("2026-06-15 12:00")
FAILOVER, DOWN, UP = ActivityType.FAILOVER, ActivityType.DOWN, ActivityType.UP


@pytest.fixture
def failovers(fleet):
    c = fleet.clusters
    bp, crm = c["billing-prod-pg"], c["crm-prod-pg"]
    f = {
        "F1": activity(FAILOVER, bp, "2026-04-10 03:00"),  # counts, no ticket
        "F2": activity(FAILOVER, crm, "2026-04-20 03:00", planned=None, ticket="https://tickets.example/2"),
        "F3": activity(FAILOVER, crm, "2026-05-02 03:00", planned=True),  # planned: excluded
        "F4": activity(FAILOVER, bp, "2026-05-05 03:00"),  # a correction adds its ticket
        "F5": activity(FAILOVER, bp, "2026-05-10 03:00"),  # a correction marks it planned
        # Inside crm's planned outage 11:00-13:00 (a maintenance window): excluded.
        "F6": activity(FAILOVER, crm, "2026-05-15 12:00"),
        "F7": activity(FAILOVER, crm, "2026-05-15 14:00"),  # after the Up: counts, no ticket
        "F8": activity(FAILOVER, bp, "2026-06-01 01:00"),  # during a patch run of the cluster
        "F9": activity(FAILOVER, c["billing-prod-mongo"], "2026-04-11 03:00", dbms_type="mongodb"),
        "F10": activity(FAILOVER, bp, "2026-03-31 23:59"),  # before the period
    }
    correction(f["F4"], ticket="https://tickets.example/4")
    correction(f["F5"], planned=True)
    activity(DOWN, crm, "2026-05-15 11:00", planned=True)
    activity(UP, crm, "2026-05-15 13:00", planned=True)
    # An unplanned outage of a single server does not make a maintenance window.
    activity(DOWN, bp, "2026-04-10 02:00", server=fleet.servers["bp1"])
    activity(UP, bp, "2026-04-10 02:30", server=fleet.servers["bp1"])
    recipe = PatchRecipe.objects.create(
        name="minor", dbms_type="postgresql", patch_type=PatchType.DB, command="true"
    )
    run = PatchRun.objects.create(
        dbms_type="postgresql", patch_type=PatchType.DB, patch_version="15.10", recipe=recipe
    )
    PatchRunCluster.objects.create(
        run=run,
        cluster=bp,
        batch=0,
        position=0,
        active=False,
        started_at=at("2026-06-01 00:00"),
        finished_at=at("2026-06-01 02:00"),
    )
    return f


def test_unplanned_failovers_per_month(fleet, failovers):
    report = unplanned_failovers("postgresql", APRIL_JUNE)
    assert report.summary["months"] == [
        {"month": "2026-04", "failovers": 2, "without_ticket": 1},
        {"month": "2026-05", "failovers": 2, "without_ticket": 1},
        {"month": "2026-06", "failovers": 0, "without_ticket": 0},
    ]
    assert report.summary["failovers"] == 4 and report.summary["without_ticket"] == 2
    ids = {row["id"]: row for row in report.rows}
    assert set(ids) == {failovers[k].pk for k in ("F1", "F2", "F4", "F7")}
    assert ids[failovers["F4"].pk]["ticket_url"] == "https://tickets.example/4"
    assert ids[failovers["F4"].pk]["has_ticket"] is True
    assert ids[failovers["F1"].pk]["has_ticket"] is False
    assert [row["id"] for row in report.rows] == [failovers[k].pk for k in ("F7", "F4", "F2", "F1")]
    assert report.chart["datasets"][0]["data"] == [1, 1, 0]  # with a ticket
    assert report.chart["datasets"][1]["data"] == [1, 1, 0]  # without


def test_unplanned_failovers_for_an_owner(fleet, failovers):
    report = unplanned_failovers("postgresql", APRIL_JUNE, applications=frozenset({fleet.billing.pk}))
    assert {row["id"] for row in report.rows} == {failovers["F1"].pk, failovers["F4"].pk}


def test_an_open_planned_outage_covers_later_failovers(fleet):
    crm = fleet.clusters["crm-prod-pg"]
    activity(DOWN, crm, "2026-04-01 00:00", planned=True, server=fleet.servers["cp1"])
    inside = activity(FAILOVER, crm, "2026-04-02 00:00")
    # An Up of another server does not close cp1's planned outage...
    activity(UP, crm, "2026-04-03 00:00", server=fleet.servers["cp2"])
    still_inside = activity(FAILOVER, crm, "2026-04-04 00:00")
    # ...an Up of the whole cluster does.
    activity(UP, crm, "2026-04-05 00:00")
    after = activity(FAILOVER, crm, "2026-04-06 00:00")
    report = unplanned_failovers("postgresql", APRIL_JUNE)
    ids = {row["id"] for row in report.rows}
    assert inside.pk not in ids and still_inside.pk not in ids and after.pk in ids


@pytest.fixture
def outages(fleet):
    crm, bp = fleet.clusters["crm-prod-pg"], fleet.clusters["billing-prod-pg"]
    activity(DOWN, crm, "2026-05-15 11:00", planned=True)
    activity(UP, crm, "2026-05-15 13:00", planned=True)
    activity(DOWN, crm, "2026-05-20 10:00")
    activity(UP, crm, "2026-05-20 10:30")
    # Across the April/May boundary: 60 minutes in each month.
    activity(DOWN, bp, "2026-04-30 23:00")
    activity(UP, bp, "2026-05-01 01:00")


def test_downtime_per_cluster_and_month(fleet, outages):
    report = downtime_by_month("postgresql", MonthRange(date(2026, 4, 1), date(2026, 5, 1)), now=NOW)
    rows = {(r["month"], r["cluster"]): r for r in report.rows}
    # Every cluster of the fleet has a row; crm-uat-pg is still building, not in the fleet.
    assert set(rows) == {
        (m, name)
        for m in ("2026-04", "2026-05")
        for name in ("billing-dev-pg", "billing-prod-pg", "crm-prod-pg")
    }
    may_minutes = 31 * 24 * 60
    crm = rows[("2026-05", "crm-prod-pg")]
    assert crm["planned_minutes"] == 120.0 and crm["unplanned_minutes"] == 30.0
    assert crm["unplanned_availability"] == round(100 * (1 - 30 / (may_minutes - 120)), 4)
    assert crm["overall_availability"] == round(100 * (1 - 150 / may_minutes), 4)
    assert crm["incidents"] == 1 and crm["mttr_minutes"] == 30.0 and crm["ongoing"] is False
    assert rows[("2026-04", "billing-prod-pg")]["unplanned_minutes"] == 60.0
    assert rows[("2026-05", "billing-prod-pg")]["unplanned_minutes"] == 60.0
    assert rows[("2026-04", "crm-prod-pg")]["unplanned_availability"] == 100.0
    assert report.summary["unplanned_minutes"] == 150.0 and report.summary["planned_minutes"] == 120.0
    # 60 minutes weigh more in 30-day April than in May.
    assert (report.summary["worst_cluster"], report.summary["worst_month"]) == ("billing-prod-pg", "2026-04")
    unplanned, planned, availability = (ds["data"] for ds in report.chart["datasets"])
    assert unplanned == [60.0, 90.0] and planned == [0.0, 120.0]
    # Fleet availability in May: 3 clusters, U = 90, P = 120.
    assert availability[1] == round(100 * (1 - 90 / (3 * may_minutes - 120)), 4)


def test_downtime_ongoing_outage_counts_until_now(fleet):
    bd = fleet.clusters["billing-dev-pg"]
    activity(DOWN, bd, "2026-06-15 10:00")
    report = downtime_by_month("postgresql", MonthRange(date(2026, 6, 1), date(2026, 6, 1)), now=NOW)
    row = next(r for r in report.rows if r["cluster"] == "billing-dev-pg")
    assert row["unplanned_minutes"] == 120.0 and row["ongoing"] is True


def test_downtime_for_an_owner(fleet, outages):
    report = downtime_by_month(
        "postgresql",
        MonthRange(date(2026, 5, 1), date(2026, 5, 1)),
        applications=frozenset({fleet.billing.pk}),
        now=NOW,
    )
    assert {r["cluster"] for r in report.rows} == {"billing-prod-pg", "billing-dev-pg"}
