"""Report numbers against the hand-built fleet of conftest.py: counts and sizes."""

from datetime import date

import pytest

from rocketdbaas.reports.periods import MonthRange
from rocketdbaas.reports.services import count_databases, database_sizes
from rocketdbaas.reports.tests.conftest import GIB, at
from rocketdbaas.telemetry.models import DailySize, DatabaseInfo, SampleSource, SizeSample

APRIL_MAY = MonthRange(date(2026, 4, 1), date(2026, 5, 1))


@pytest.fixture
def sizes(fleet):
    c, s = fleet.clusters, fleet.servers

    def daily(cluster, server, database, day, gigs):
        DailySize.objects.create(
            dbms_type=cluster.dbms_type,
            cluster=cluster,
            server=server,
            database=database,
            day=at(day).date(),
            max_bytes=gigs * GIB,
            avg_bytes=gigs * GIB // 2,
            samples=24,
        )

    def raw(cluster, server, database, when, gigs):
        SizeSample.objects.create(
            dbms_type=cluster.dbms_type,
            cluster=cluster,
            server=server,
            database=database,
            size_bytes=gigs * GIB,
            sampled_at=at(when),
            source=SampleSource.COLLECTED,
        )

    bp = c["billing-prod-pg"]
    # April: billing peaks at 12 (the replica reports the same 10 on the 1st: counted once).
    daily(bp, s["bp1"], "billing", "2026-04-01", 10)
    daily(bp, s["bp2"], "billing", "2026-04-01", 10)
    daily(bp, s["bp1"], "billing", "2026-04-15", 12)
    daily(bp, s["bp1"], "audit", "2026-04-02", 2)
    daily(c["crm-prod-pg"], s["cp1"], "crm", "2026-04-03", 100)
    # May from raw samples (the recent window): 15 + 3.
    raw(bp, s["bp1"], "billing", "2026-05-20 10:00", 15)
    raw(bp, s["bp2"], "audit", "2026-05-21 10:00", 3)
    # Outside the period, and another type: never counted.
    daily(bp, s["bp1"], "billing", "2026-03-31", 999)
    raw(bp, s["bp1"], "billing", "2026-06-01 00:00", 999)
    daily(c["billing-prod-mongo"], s["bm1"], "app", "2026-04-01", 777)
    for cluster, name, gigs in [(bp, "billing", 15), (bp, "audit", 3), (c["crm-prod-pg"], "crm", 100)]:
        DatabaseInfo.objects.create(
            cluster=cluster,
            name=name,
            size_bytes=gigs * GIB,
            source=SampleSource.COLLECTED,
            first_seen_at=at("2026-04-01"),
            last_seen_at=at("2026-05-21"),
        )


def test_counts_by_application_and_environment(fleet, sizes):
    report = count_databases("postgresql")
    assert report.rows == [
        {"application": "billing", "environment": "dev", "clusters": 1, "servers": 1, "databases": 0},
        {"application": "billing", "environment": "prod", "clusters": 1, "servers": 2, "databases": 2},
        {"application": "crm", "environment": "prod", "clusters": 1, "servers": 3, "databases": 1},
    ]
    assert report.summary == {"clusters": 3, "servers": 6, "databases": 3, "applications": 2}
    assert report.chart["labels"] == ["billing", "crm"]
    assert {ds["label"]: ds["data"] for ds in report.chart["datasets"]} == {
        "dev": [1, 0],
        "prod": [1, 1],
    }
    assert report.notes == []


def test_counts_for_an_owner_cover_only_their_applications(fleet):
    report = count_databases("postgresql", applications=frozenset({fleet.billing.pk}))
    assert {row["application"] for row in report.rows} == {"billing"}
    assert report.summary["clusters"] == 2
    # No databases collected yet: said plainly, not guessed.
    assert report.notes and "No databases have been collected" in report.notes[0]


def test_counts_of_the_other_type(fleet):
    report = count_databases("mongodb")
    assert report.rows == [
        {"application": "billing", "environment": "prod", "clusters": 1, "servers": 1, "databases": 0}
    ]


def test_sizes_per_month_take_each_databases_peak_once(fleet, sizes):
    report = database_sizes("postgresql", APRIL_MAY, bucket="month")
    assert [(r["bucket"], r["cluster"], r["databases"], r["size_gigs"]) for r in report.rows] == [
        ("2026-04-01", "billing-prod-pg", 2, 14.0),
        ("2026-04-01", "crm-prod-pg", 1, 100.0),
        ("2026-05-01", "billing-prod-pg", 2, 18.0),
    ]
    assert report.chart["labels"] == ["2026-04-01", "2026-05-01"]
    assert {ds["label"]: ds["data"] for ds in report.chart["datasets"]} == {
        "billing": [14.0, 18.0],
        "crm": [100.0, 0.0],
    }
    assert report.summary == {
        "current_size_gigs": 118.0,
        "current_databases": 3,
        "first_bucket_gigs": 114.0,
        "last_bucket_gigs": 18.0,
        "growth_gigs": -96.0,
    }


def test_sizes_per_day(fleet, sizes):
    report = database_sizes("postgresql", APRIL_MAY, bucket="day")
    first = report.rows[0]
    assert (first["bucket"], first["cluster"], first["size_gigs"], first["databases"]) == (
        "2026-04-01",
        "billing-prod-pg",
        10.0,
        1,
    )
    assert [r["bucket"] for r in report.rows] == [
        "2026-04-01",
        "2026-04-02",
        "2026-04-03",
        "2026-04-15",
        "2026-05-20",
        "2026-05-21",
    ]


def test_sizes_for_an_owner(fleet, sizes):
    report = database_sizes("postgresql", APRIL_MAY, applications=frozenset({fleet.billing.pk}))
    assert {r["cluster"] for r in report.rows} == {"billing-prod-pg"}
    assert report.summary["current_size_gigs"] == 18.0


def test_sizes_without_samples_say_so(fleet):
    report = database_sizes("postgresql", APRIL_MAY)
    assert report.rows == [] and report.chart["labels"] == []
    assert "No size samples" in report.notes[0]
