"""Report numbers against the hand-built fleet of conftest.py: cost and unpatched."""

from datetime import date
from decimal import Decimal

import pytest

from rocketdbaas.inventory.models import Cluster, ClusterStatus
from rocketdbaas.patching.models import (
    PatchRecipe,
    PatchRun,
    PatchRunCluster,
    PatchStep,
    PatchType,
    StepOutcome,
    TargetVersion,
)
from rocketdbaas.reports.models import RateCard
from rocketdbaas.reports.periods import MonthRange
from rocketdbaas.reports.services import application_costs, unpatched_servers
from rocketdbaas.reports.tests.conftest import at, make_server

NOW = at("2026-06-15 12:00")


@pytest.fixture
def rate_cards(db):
    RateCard.objects.create(
        dbms_type="postgresql",
        currency="USD",
        r_cpu=Decimal(10),
        r_ram=Decimal(2),
        r_disk=Decimal("0.1"),
        r_backup=Decimal("0.05"),
        effective_from=date(2026, 1, 1),
        effective_to=date(2026, 4, 1),
    )
    RateCard.objects.create(
        dbms_type="postgresql",
        currency="USD",
        r_cpu=Decimal(12),
        r_ram=Decimal(2),
        r_disk=Decimal("0.1"),
        r_backup=Decimal("0.05"),
        effective_from=date(2026, 4, 1),
    )
    # Another type's card never prices PostgreSQL.
    RateCard.objects.create(
        dbms_type="mongodb",
        r_cpu=Decimal(1000),
        r_ram=Decimal(1000),
        r_disk=Decimal(1000),
        r_backup=Decimal(1000),
        effective_from=date(2025, 1, 1),
    )


def test_costs_per_application_and_month(fleet, rate_cards):
    report = application_costs("postgresql", MonthRange(date(2025, 12, 1), date(2026, 4, 1)), now=NOW)
    got = {
        (r["application"], r["month"]): (
            r["servers"],
            r["cpu"],
            r["ram_gigs"],
            r["disk_gigs"],
            r["total_cost"],
        )
        for r in report.rows
    }
    assert got == {
        # December: only crm-prod-pg existed, and no card covers the month.
        ("crm", "2025-12"): (3, 24, 96, 600, None),
        # billing-prod-pg from January (created on the 10th: the whole month counts).
        ("billing", "2026-01"): (2, 8, 32, 200, 164.0),  # 8*10 + 32*2 + 200*0.1
        ("crm", "2026-01"): (3, 24, 96, 600, 492.0),  # 240 + 192 + 60
        ("billing", "2026-02"): (2, 8, 32, 200, 164.0),
        ("crm", "2026-02"): (3, 24, 96, 600, 492.0),
        ("billing", "2026-03"): (3, 10, 40, 250, 205.0),  # + billing-dev-pg: 100 + 80 + 25
        ("crm", "2026-03"): (3, 24, 96, 600, 492.0),
        # April: the second card (12 per core); crm-uat-pg is still building, not in the fleet.
        ("billing", "2026-04"): (3, 10, 40, 250, 225.0),  # 120 + 80 + 25
        ("crm", "2026-04"): (3, 24, 96, 600, 540.0),  # 288 + 192 + 60
    }
    row = next(r for r in report.rows if (r["application"], r["month"]) == ("crm", "2026-04"))
    assert row["compute_cost"] == 540.0 and row["currency"] == "USD" and row["cost_centre"] == "CC-200"
    assert report.summary["total_cost"] == 164 * 2 + 492 * 3 + 205 + 225 + 540
    assert report.summary["months_without_rate_card"] == ["2025-12"]
    assert any("2025-12" in note for note in report.notes)
    assert [card.effective_from for card in report.summary["rate_cards"]] == [
        date(2026, 1, 1),
        date(2026, 4, 1),
    ]
    assert report.chart["labels"] == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]
    assert {ds["label"]: ds["data"] for ds in report.chart["datasets"]} == {
        "billing": [0, 164.0, 164.0, 205.0, 225.0],
        "crm": [0, 492.0, 492.0, 492.0, 540.0],
    }


def test_costs_for_an_owner(fleet, rate_cards):
    report = application_costs(
        "postgresql",
        MonthRange(date(2026, 4, 1), date(2026, 4, 1)),
        applications=frozenset({fleet.billing.pk}),
        now=NOW,
    )
    assert [(r["application"], r["total_cost"]) for r in report.rows] == [("billing", 225.0)]


def test_costs_without_any_rate_card(fleet):
    report = application_costs("postgresql", MonthRange(date(2026, 4, 1), date(2026, 4, 1)), now=NOW)
    assert {r["total_cost"] for r in report.rows} == {None}
    assert report.summary["total_cost"] is None


def _patched(server, cluster, finished, outcome=StepOutcome.SUCCEEDED, dry_run=False):
    recipe, _ = PatchRecipe.objects.get_or_create(
        name="minor", dbms_type="postgresql", patch_type=PatchType.DB, defaults={"command": "true"}
    )
    run = PatchRun.objects.create(
        dbms_type="postgresql", patch_type=PatchType.DB, patch_version="15.10", recipe=recipe, dry_run=dry_run
    )
    run_cluster = PatchRunCluster.objects.create(run=run, cluster=cluster, batch=0, position=0, active=False)
    PatchStep.objects.create(
        run=run,
        run_cluster=run_cluster,
        cluster=cluster,
        server=server,
        batch=0,
        position=0,
        outcome=outcome,
        finished_at=at(finished),
    )


@pytest.fixture
def patch_history(fleet):
    s, c = fleet.servers, fleet.clusters
    TargetVersion.objects.create(dbms_type="postgresql", patch_type=PatchType.DB, version="15.10")
    TargetVersion.objects.create(dbms_type="postgresql", patch_type=PatchType.OS, version="rhel9.4")
    _patched(s["cp1"], c["crm-prod-pg"], "2026-05-01")
    _patched(s["cp2"], c["crm-prod-pg"], "2026-01-01")  # older than 90 days before NOW
    _patched(s["cp2"], c["crm-prod-pg"], "2026-06-01", outcome=StepOutcome.FAILED)  # failures do not count
    _patched(s["cp2"], c["crm-prod-pg"], "2026-06-02", dry_run=True)  # nor do dry runs


def test_unpatched_servers_and_clusters(fleet, patch_history):
    report = unpatched_servers("postgresql", days=90, now=NOW)
    assert report.summary == {
        "servers": 6,
        "unpatched_servers": 5,
        "clusters": 3,
        "unpatched_clusters": 3,
        "version_unknown_servers": 0,
        "version_unknown_clusters": 0,
        "db_target": "15.10",
        "os_target": "rhel9.4",
        "days": 90,
    }
    flags = {r["server"]: (r["db_outdated"], r["os_outdated"], r["patch_overdue"]) for r in report.rows}
    assert all(not r["version_unknown"] for r in report.rows)
    assert flags == {
        "bp1": (True, True, True),  # 15.4 and rhel 9.2, never patched
        "bp2": (True, False, True),
        "bd1": (True, False, True),  # 15.8 < 15.10
        "cp2": (False, False, True),  # last success 2026-01-01
        "cp3": (True, False, True),  # 15.9 < 15.10
    }
    cp2 = next(r for r in report.rows if r["server"] == "cp2")
    assert cp2["last_patched_at"] == at("2026-01-01") and cp2["cluster_name"] == "crm-prod-pg"
    assert report.chart["datasets"][0]["data"] == [1, 0]  # up to date: cp1 (crm-uat-pg is building)
    assert report.chart["datasets"][1]["data"] == [5, 3]
    assert report.chart["datasets"][2]["data"] == [0, 0]
    assert report.notes == []


def test_unknown_versions_are_never_counted_up_to_date(fleet, patch_history):
    uat = fleet.clusters["crm-uat-pg"]
    Cluster.objects.filter(pk=uat.pk).update(status=ClusterStatus.ACTIVE)  # built: in the fleet now
    # Joined recently (not overdue): only their versions can make them need attention.
    make_server("cu2", uat, 2, 4, 20, db="", created="2026-06-01")
    make_server("cu3", uat, 2, 4, 20, db="PostgreSQL, build unknown", created="2026-06-01")
    make_server("cu4", uat, 2, 4, 20, os="ubuntu 22.04", created="2026-06-01")  # not a rhel version
    make_server("cu5", uat, 2, 4, 20, db="15.10", created="2026-06-01")  # 15.10 is not below 15.10
    report = unpatched_servers("postgresql", days=90, now=NOW)
    rows = {r["server"]: r for r in report.rows}
    assert {name: (r["db_outdated"], r["version_unknown"]) for name, r in rows.items()} == {
        "bp1": (True, False),
        "bp2": (True, False),
        "bd1": (True, False),
        "cp2": (False, False),
        "cp3": (True, False),  # 15.9 is below 15.10
        "cu2": (False, True),
        "cu3": (False, True),
        "cu4": (False, True),
    }
    assert rows["cu2"]["db_version"] == "" and rows["cu4"]["os_version"] == "ubuntu 22.04"
    summary = report.summary
    assert (summary["servers"], summary["unpatched_servers"], summary["version_unknown_servers"]) == (
        11,
        8,
        3,
    )
    assert (summary["clusters"], summary["unpatched_clusters"], summary["version_unknown_clusters"]) == (
        4,
        4,
        1,
    )
    labels = [d["label"] for d in report.chart["datasets"]]
    assert labels == ["Up to date", "Unpatched", "Version unknown"]
    assert [d["data"] for d in report.chart["datasets"]] == [[3, 0], [5, 3], [3, 1]]


def test_patch_age_threshold_moves_with_days(fleet, patch_history):
    report = unpatched_servers("postgresql", days=400, now=NOW)
    # Servers joined 2025-01-01, 530 days before NOW: still overdue; cp2's January patch is
    # recent enough now, and its version is at the target.
    assert {r["server"] for r in report.rows} == {"bp1", "bp2", "bd1", "cp3"}
    assert report.summary["unpatched_servers"] == 4


def test_unpatched_without_targets_checks_patch_age_only(fleet):
    report = unpatched_servers("postgresql", days=90, now=NOW)
    assert report.summary["db_target"] is None
    assert "No target versions" in report.notes[0]
    assert all(not r["db_outdated"] and not r["os_outdated"] for r in report.rows)
    # cu1 joined 14 days before NOW: not overdue.
    assert {r["server"] for r in report.rows} == {"bp1", "bp2", "bd1", "cp1", "cp2", "cp3"}


def test_unpatched_for_an_owner(fleet, patch_history):
    report = unpatched_servers("postgresql", days=90, applications=frozenset({fleet.billing.pk}), now=NOW)
    assert {r["server"] for r in report.rows} == {"bp1", "bp2", "bd1"}
    assert report.summary["clusters"] == 2
