"""Backup size report and the backup part of the cost report, against hand-worked numbers."""

from datetime import date
from decimal import Decimal

import pytest

from rocketdbaas.backups.models import Backup, BackupStatus, BackupType
from rocketdbaas.reports.models import RateCard
from rocketdbaas.reports.periods import MonthRange
from rocketdbaas.reports.services import application_costs, backup_gig_months, backup_sizes
from rocketdbaas.reports.tests.conftest import at

NOW = at("2026-06-15 12:00")
APRIL_JUNE = MonthRange(date(2026, 4, 1), date(2026, 6, 1))


def backup(
    cluster,
    label,
    gigs,
    started,
    stopped=None,
    *,
    status=BackupStatus.SUCCEEDED,
    expired=None,
    kind=BackupType.FULL,
):
    return Backup.objects.create(
        dbms_type=cluster.dbms_type,
        cluster=cluster,
        label=label,
        backup_type=kind,
        status=status,
        bkup_size_gigs=gigs,
        db_size_gigs=None if gigs is None else gigs * 2,
        started_at=at(started),
        stopped_at=at(stopped) if stopped else None,
        expired_at=at(expired) if expired else None,
    )


@pytest.fixture
def catalogue(fleet):
    c = fleet.clusters
    bp = c["billing-prod-pg"]
    # Held 2026-04-01 00:00 to 04-16 00:00: 15 of April's 30 days -> 50 GB-months.
    backup(bp, "B1", 100, "2026-03-31 23:00", "2026-04-01 00:00", expired="2026-04-16 00:00")
    # From 04-16: 30 GB-months in April, 60 in May, 14.5/30 of June up to NOW -> 29.
    backup(bp, "B2", 60, "2026-04-16 00:00", "2026-04-16 00:00")
    backup(
        bp,
        "B3",
        5,
        "2026-05-10 00:00",
        "2026-05-10 01:00",
        status=BackupStatus.FAILED,
        kind=BackupType.INCREMENTAL,
    )
    # Finished at June's first instant: nothing in May; 200 * 14.5/30 in June.
    backup(c["crm-prod-pg"], "B4", 200, "2026-05-31 00:00", "2026-06-01 00:00")
    backup(c["billing-dev-pg"], "B5", None, "2026-06-10 00:00", status=BackupStatus.RUNNING)
    backup(c["billing-prod-mongo"], "M1", 999, "2026-04-02 00:00", "2026-04-02 01:00")


def test_backup_gig_months(fleet, catalogue):
    got = backup_gig_months("postgresql", APRIL_JUNE, None, NOW)
    expected = {
        (fleet.billing.pk, "2026-04"): 80.0,
        (fleet.billing.pk, "2026-05"): 60.0,
        (fleet.billing.pk, "2026-06"): 29.0,
        (fleet.crm.pk, "2026-06"): 200 * 14.5 / 30,
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value)


def test_costs_include_backup_gig_months(fleet, catalogue):
    RateCard.objects.create(
        dbms_type="postgresql",
        r_cpu=Decimal(12),
        r_ram=Decimal(2),
        r_disk=Decimal("0.1"),
        r_backup=Decimal("0.05"),
        effective_from=date(2026, 4, 1),
    )
    report = application_costs("postgresql", APRIL_JUNE, now=NOW)
    got = {
        (r["application"], r["month"]): (r["backup_gig_months"], r["backup_cost"], r["total_cost"])
        for r in report.rows
    }
    assert got == {
        ("billing", "2026-04"): (80.0, 4.0, 229.0),  # 225 for the servers + 80 * 0.05
        ("billing", "2026-05"): (60.0, 3.0, 228.0),
        ("billing", "2026-06"): (29.0, 1.45, 226.45),
        ("crm", "2026-04"): (0.0, 0.0, 540.0),
        ("crm", "2026-05"): (0.0, 0.0, 540.0),
        ("crm", "2026-06"): (96.667, 4.83, 544.83),  # 96.667 * 0.05 = 4.833
    }


def test_backup_sizes_per_cluster_and_month(fleet, catalogue):
    report = backup_sizes("postgresql", APRIL_JUNE, now=NOW)
    got = [
        (r["month"], r["cluster"], r["backups"], r["failed"], r["written_gigs"], r["held_gigs"])
        for r in report.rows
    ]
    assert got == [
        ("2026-04", "billing-prod-pg", 1, 0, 60.0, 60.0),
        ("2026-05", "billing-prod-pg", 0, 1, 0.0, 60.0),
        ("2026-05", "crm-prod-pg", 1, 0, 200.0, 200.0),
        ("2026-06", "billing-dev-pg", 0, 0, 0.0, 0.0),  # a running backup: taken, not yet counted
        ("2026-06", "billing-prod-pg", 0, 0, 0.0, 60.0),
        ("2026-06", "crm-prod-pg", 0, 0, 0.0, 200.0),
    ]
    written, held = (ds["data"] for ds in report.chart["datasets"])
    assert written == [60.0, 200.0, 0.0] and held == [60.0, 260.0, 260.0]
    assert report.summary == {"backups": 2, "failed": 1, "written_gigs": 260.0, "held_gigs_at_end": 260.0}


def test_backup_sizes_for_an_owner(fleet, catalogue):
    report = backup_sizes("postgresql", APRIL_JUNE, applications=frozenset({fleet.billing.pk}), now=NOW)
    assert {r["application"] for r in report.rows} == {"billing"}
    assert report.summary["held_gigs_at_end"] == 60.0


def test_no_backups_is_said_plainly(fleet):
    report = backup_sizes("postgresql", APRIL_JUNE, now=NOW)
    assert report.rows == [] and "No backups recorded" in report.notes[0]
