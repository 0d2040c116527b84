"""Reports and the owners' dashboard in a real browser: charts drawn, CSVs downloaded."""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from rocketdbaas.accounts.models import Role
from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.backups.models import Backup, BackupStatus, BackupType
from rocketdbaas.contacts.models import ApplicationContact
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.patching.models import PatchType, TargetVersion
from rocketdbaas.reports.models import RateCard
from rocketdbaas.telemetry.models import DailySize
from tests.support.fixtures import make_user

REPORTS = ["counts", "sizes", "backups", "failovers", "downtime", "unpatched", "costs"]
GIB = 1024**3

CHART_POINTS = """() => {
  const canvas = document.querySelector("canvas[data-chart]");
  const chart = canvas && window.Chart && Chart.getChart(canvas);
  return chart ? chart.data.datasets[0].data.length : -1;
}"""


def _fleet():
    """Two applications with a cluster each, a month of sizes, backups, events and a rate card."""
    now = timezone.now()
    owner = make_user("olga-owner", Role.OWNER)
    apps = {}
    for name, env in (("payments", "prod"), ("ledger", "uat")):
        app = Application.objects.create(name=name, cost_centre=f"CC-{name}")
        apps[name] = app
        cluster = Cluster.objects.create(
            name=f"{name}-pg", dbms_type="postgresql", application=app, environment=env
        )
        for i, role in enumerate(("primary", "replica")):
            server = Server.objects.create(
                name=f"{name}-{i}",
                dbms_type="postgresql",
                cpu=4,
                ram=16,
                db_gigs=100,
                status=PoolStatus.USED,
                cluster=cluster,
                role=role,
                db_version="15.4",
            )
            for days_ago in (40, 20, 5):
                DailySize.objects.create(
                    dbms_type="postgresql",
                    cluster=cluster,
                    server=server,
                    database=name,
                    day=(now - timedelta(days=days_ago)).date(),
                    max_bytes=(50 - days_ago) * GIB,
                    avg_bytes=(50 - days_ago) * GIB,
                    samples=24,
                )
        Backup.objects.create(
            dbms_type="postgresql",
            cluster=cluster,
            label=f"{name}-full",
            backup_type=BackupType.FULL,
            status=BackupStatus.SUCCEEDED,
            bkup_size_gigs=30,
            started_at=now - timedelta(days=10, hours=1),
            stopped_at=now - timedelta(days=10),
        )
        for kind, minutes_ago in (
            (ActivityType.DOWN, 300),
            (ActivityType.UP, 280),
            (ActivityType.FAILOVER, 290),
        ):
            Activity.objects.create(
                dbms_type="postgresql",
                type=kind,
                cluster=cluster,
                occurred_at=now - timedelta(minutes=minutes_ago),
                planned=False,
                summary=f"{kind} on {name}",
            )
    apps["payments"].owners.add(owner)
    TargetVersion.objects.create(dbms_type="postgresql", patch_type=PatchType.DB, version="15.8")
    RateCard.objects.create(
        dbms_type="postgresql",
        r_cpu=Decimal(10),
        r_ram=Decimal(2),
        r_disk=Decimal("0.1"),
        r_backup=Decimal("0.05"),
        effective_from=date(2020, 1, 1),
    )
    return owner


@pytest.fixture
def fleet(transactional_db):
    return _fleet()


def test_every_report_draws_its_chart_and_downloads_its_csv(page, login, screenshot, fleet):
    login(page, make_user("vera-viewer", Role.VIEWER))
    page.goto("/reports/postgresql/")
    expect(page.locator(".report-link")).to_have_count(len(REPORTS))
    screenshot(page, "reports-index")
    for slug in REPORTS:
        page.goto(f"/reports/postgresql/{slug}/")
        expect(page.locator("canvas[data-chart]")).to_be_visible()
        page.wait_for_function(f"({CHART_POINTS})() > 0")
        assert page.evaluate(CHART_POINTS) > 0, slug
        expect(page.locator("table.report-table tbody tr").first).to_be_visible()
        screenshot(page, f"report-{slug}")

        with page.expect_download() as info:
            page.get_by_test_id("csv-download").click()
        download = info.value
        assert download.suggested_filename.startswith(f"rocketdbaas-postgresql-{slug}")
        with open(download.path(), encoding="utf-8") as handle:
            rows = list(csv.reader(io.StringIO(handle.read())))
        header = [cell.strip() for cell in page.locator("table.report-table thead th").all_inner_texts()]
        assert rows[0] == header, slug
        assert len(rows) > 1, slug


def test_owner_sees_only_their_databases_and_signs_up_a_contact(page, login, screenshot, fleet):
    login(page, fleet)
    page.get_by_role("link", name="My databases").click()
    expect(page.locator("h1")).to_have_text("My databases")
    expect(page.locator(".app-block")).to_have_count(1)
    expect(page.locator(".app-block h2")).to_have_text("payments")
    expect(page.locator("main")).not_to_contain_text("ledger")
    page.wait_for_function(f"({CHART_POINTS})() > 0")
    screenshot(page, "my-databases")

    form = page.locator("form.contact-sign-up")
    form.locator("#id_name").fill("Pat Pager")
    form.locator("#id_email").fill("not an email")
    form.get_by_role("button", name="Sign up").click()
    expect(page.locator(".field.has-error")).to_contain_text("Enter a valid email address")
    expect(form.locator("#id_name")).to_have_value("Pat Pager")  # input kept
    assert not ApplicationContact.objects.exists()

    form.locator("#id_email").fill("pat@example.com")
    form.locator("#id_role").select_option("technical")
    form.get_by_role("button", name="Sign up").click()
    expect(page.locator(".flash.success")).to_contain_text("Pat Pager is now a contact of payments")
    expect(page.locator(".app-block .contacts")).to_contain_text("pat@example.com")
    screenshot(page, "my-databases-contact-signed-up")
    link = ApplicationContact.objects.select_related("application", "contact").get()
    assert (link.application.name, link.contact.email, link.role) == (
        "payments",
        "pat@example.com",
        "technical",
    )
