"""The audit log and the backup catalogue in a real browser: recording an outage and linking
its ticket later; previewing a roll-off (htmx) and applying it."""

from datetime import timedelta

from playwright.sync_api import expect

from tests.support.fixtures import make_user


def _cluster(name: str):
    from rocketdbaas.inventory.models import Application, Cluster

    app = Application.objects.create(name=f"app-{name}")
    return Cluster.objects.create(name=name, dbms_type="postgresql", application=app)


def test_dba_records_an_outage_and_links_its_ticket(page, login, screenshot):
    from rocketdbaas.accounts.models import Role
    from rocketdbaas.activities.models import Activity

    _cluster("pg-shop")
    login(page, make_user("dana-dba", Role.DBA))
    page.goto("/activities/postgresql/")
    page.click("text=Record an activity")
    page.select_option("#record-activity select[name=type]", "Down")
    page.fill("#record-activity input[name=cluster]", "pg-shop")
    page.select_option("#record-activity select[name=planned]", "false")
    page.fill("#record-activity input[name=summary]", "primary unreachable")
    page.click("#record-activity button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Recorded Down on pg-shop")
    row = page.locator("#activities tbody tr", has_text="primary unreachable")
    expect(row).to_contain_text("unplanned")

    row.locator("input[name=ticket_url]").fill("https://tickets.example.com/INC-9")
    row.locator("button", has_text="Link").click()
    expect(page.locator(".flash")).to_contain_text("Ticket linked")
    expect(page.locator("#activities a", has_text="ticket")).to_have_attribute(
        "href", "https://tickets.example.com/INC-9"
    )
    screenshot(page, "activities-ticket-linked")
    assert Activity.objects.filter(type="Correction").count() == 1


def test_dba_previews_and_applies_a_roll_off(page, login, screenshot):
    from django.utils import timezone

    from rocketdbaas.accounts.models import Role
    from rocketdbaas.backups.models import Backup
    from rocketdbaas.backups.services import set_policy

    cluster = _cluster("pg-ledger")
    for weeks_ago in (3, 2, 1):
        start = timezone.now() - timedelta(weeks=weeks_ago)
        Backup.objects.create(
            dbms_type="postgresql",
            cluster=cluster,
            label=f"F{weeks_ago}",
            repository="repo1",
            backup_type="full",
            status="succeeded",
            started_at=start,
            stopped_at=start + timedelta(hours=1),
            bkup_size_gigs=50,
        )
    set_policy(
        dbms_type="postgresql",
        cluster="pg-ledger",
        keep_fulls=1,
        recovery_window_days=None,
        min_fulls=1,
        failed_keep_days=30,
        user=None,
    )

    login(page, make_user("dana-dba", Role.DBA))
    page.goto("/backups/postgresql/?cluster=pg-ledger")
    expect(page.locator("h1")).to_have_text("Backups of pg-ledger")
    page.click("text=Preview roll-off")
    preview = page.locator("#rolloff-preview")
    expect(preview).to_contain_text("2 backups would expire")
    expect(preview).to_contain_text("keepFulls=1")
    screenshot(page, "backups-rolloff-preview")
    assert Backup.objects.filter(expired_at__isnull=False).count() == 0

    page.on("dialog", lambda dialog: dialog.accept())
    preview.locator("button", has_text="Apply roll-off").click()
    expect(page.locator(".flash")).to_contain_text("Roll-off expired 2 backups")
    assert set(Backup.objects.filter(expired_at__isnull=False).values_list("label", flat=True)) == {
        "F3",
        "F2",
    }
