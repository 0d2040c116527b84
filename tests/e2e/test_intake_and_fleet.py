"""The intake workflow and the fleet pages in a real browser."""

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from rocketdbaas.accounts.models import Role
from rocketdbaas.intake.models import IntakeRequest, RequestStatus
from rocketdbaas.inventory import services as inventory
from rocketdbaas.inventory.models import Cluster, PoolStatus, Server
from tests.support.fixtures import make_user


def add_pool(*specs):
    inventory.add_pool_servers(
        "postgresql", [inventory.ServerSpec(server_name=n, cpu=c, ram=r, db_gigs=d) for n, c, r, d in specs]
    )


def open_postgresql_page(page, label: str):
    page.locator(".sidebar .nav-section", has_text="PostgreSQL").get_by_role("link", name=label).click()


def fill_intake_form(page, needed_by: str):
    page.fill("#id_new_application_name", "Billing <Core>")
    page.fill("#id_contacts", "Ops Team <ops@example.com>")
    page.fill("#id_cost_centre", "CC-1234")
    page.select_option("#id_dbms_type", "postgresql")
    page.select_option("#id_environment", "prod")
    page.fill("#id_number_of_servers", "2")
    page.fill("#id_cpu", "4")
    page.fill("#id_ram", "16")
    page.fill("#id_db_gigs", "100")
    page.fill("#id_expected_size_gigs", "40")
    page.fill("#id_growth_gigs_per_month", "2")
    page.fill("#id_needed_by", needed_by)
    page.fill("#id_notes", "<script>window.__xss = 1</script> for the billing service")


def test_request_is_submitted_fixed_approved_and_fulfilled(page, login, screenshot):
    add_pool(("pg-a", 4, 16, 100), ("pg-b", 8, 32, 200), ("pg-big", 32, 128, 1000))
    owner = make_user("olga-owner", Role.OWNER, email="olga@example.com")
    dba = make_user("dave-dba", Role.DBA)

    login(page, owner)
    page.get_by_role("link", name="Database requests").click()
    page.get_by_role("link", name="Request a database").click()
    expect(page.locator("#id_requester_email")).to_have_value("olga@example.com")
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    fill_intake_form(page, yesterday)
    page.get_by_role("button", name="Submit request").click()

    expect(page.locator(".form-errors")).to_contain_text("Please correct")
    expect(page.locator(".field.has-error")).to_contain_text("cannot be in the past")
    expect(page.locator("#id_cost_centre")).to_have_value("CC-1234")  # input kept
    expect(page.locator("#id_notes")).to_have_value(re.compile("for the billing service"))
    screenshot(page, "intake-form-error")
    assert not IntakeRequest.objects.exists()

    page.fill("#id_needed_by", (timezone.localdate() + timedelta(days=14)).isoformat())
    page.get_by_role("button", name="Submit request").click()
    expect(page.locator("h1")).to_contain_text(re.compile(r"REQ-\d{4}-0001"))
    expect(page.locator("h1 .badge")).to_have_text("Submitted")
    expect(page.locator(".attrs")).to_contain_text("<script>window.__xss = 1</script>")  # shown as text
    assert page.evaluate("window.__xss") is None  # and never run
    reference = IntakeRequest.objects.get().reference
    screenshot(page, "intake-request-submitted")

    page.get_by_role("button", name="Log out").click()
    login(page, dba)
    page.goto(f"/requests/{reference}/")
    expect(page.locator(".decision")).to_contain_text("3 Free PostgreSQL servers in the pool match")
    expect(page.locator("#id_cluster_name")).to_have_value("billing-core-prod-pg")
    screenshot(page, "intake-request-decide")
    page.get_by_role("button", name="Approve and fulfil").click()

    expect(page.locator(".flash.success")).to_contain_text("cluster billing-core-prod-pg is built")
    expect(page.locator("h1 .badge")).to_have_text("Fulfilled")
    expect(page.locator(".history")).to_contain_text("built from pg-a, pg-b")
    page.get_by_role("link", name="Open cluster billing-core-prod-pg").click()

    expect(page).to_have_url(re.compile("/clusters/postgresql/billing-core-prod-pg/$"))
    servers = page.locator("section.servers tbody tr")
    expect(servers).to_have_count(2)
    expect(servers.nth(0)).to_contain_text("pg-a")
    expect(servers.nth(0)).to_contain_text("Primary")
    expect(servers.nth(1)).to_contain_text("Replica")
    expect(page.locator("[data-panel=intake-requests]")).to_contain_text(reference)
    screenshot(page, "cluster-detail")
    assert IntakeRequest.objects.get().status == RequestStatus.FULFILLED
    assert Server.objects.get(name="pg-big").status == PoolStatus.FREE


def test_pool_pull_release_and_mark_used(page, login, screenshot):
    add_pool(("p-small", 2, 8, 50), ("p-mid", 4, 16, 100), ("p-big", 16, 64, 500))
    inventory.register_clusters_servers(
        "postgresql",
        [
            inventory.ClusterRegistration(
                application=inventory.ApplicationSpec(name="Ledger"),
                cluster=inventory.ClusterSpec(name="ledger-prod"),
                servers=[inventory.ServerSpec("ledger-1", 4, 16, 100, role="primary")],
            )
        ],
    )
    dba = make_user("dave-dba", Role.DBA)
    login(page, dba)
    open_postgresql_page(page, "Spare pool")
    expect(page.locator("table.pool tbody tr")).to_have_count(3)

    page.fill("#id_number_of_servers", "5")
    page.fill("#id_cpu", "2")
    page.fill("#id_ram", "8")
    page.fill("#id_db_gigs", "50")
    page.get_by_role("button", name="Pull and lock").click()
    expect(page.locator(".flash.error")).to_contain_text("3 match. Nothing was locked.")
    expect(page.locator("#id_number_of_servers")).to_have_value("5")

    page.fill("#id_number_of_servers", "2")
    page.get_by_role("button", name="Pull and lock").click()
    expect(page.locator(".flash.success")).to_contain_text("Locked 2 server(s) for you: p-mid, p-small")
    expect(page.locator("table.pool tbody tr")).to_have_count(2)
    screenshot(page, "pool-locked")

    page.locator("tr[data-server=p-small]").get_by_role("button", name="Release").click()
    expect(page.locator(".flash.success")).to_contain_text("p-small is now Free.")

    row = page.locator("tr[data-server=p-mid]")
    row.locator("input[name=cluster]").fill("ledger-prod")
    row.locator("select[name=role]").select_option("replica")
    row.get_by_role("button", name="Mark used").click()
    expect(page.locator(".flash.success")).to_contain_text(
        "p-mid is now Used in cluster ledger-prod as replica."
    )
    assert Cluster.objects.get(name="ledger-prod").servers.count() == 2

    # Returning a Used server asks first; declining leaves it alone.
    page.goto("/pool/postgresql/?status=Used")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("tr[data-server=p-mid]").get_by_role("button", name="Return to pool").click()
    expect(page.locator("tr[data-server=p-mid]")).to_be_visible()
    assert Server.objects.get(name="p-mid").status == PoolStatus.USED

    page.goto("/pool/postgresql/")
    screenshot(page, "pool")


def test_viewer_browses_the_fleet_without_actions(page, login, screenshot):
    add_pool(("p-small", 2, 8, 50))
    for i in range(3):
        inventory.register_clusters_servers(
            "postgresql",
            [
                inventory.ClusterRegistration(
                    application=inventory.ApplicationSpec(name=f"App {i}"),
                    cluster=inventory.ClusterSpec(name=f"app{i}-prod", environment="prod" if i else "dev"),
                    servers=[
                        inventory.ServerSpec(f"app{i}-db1", 4, 16, 100, role="primary", db_version="16.4"),
                        inventory.ServerSpec(f"app{i}-db2", 4, 16, 100, role="replica", db_version="16.4"),
                    ],
                )
            ],
        )
    viewer = make_user("vera-viewer", Role.VIEWER)
    login(page, viewer)
    screenshot(page, "dashboard-fleet")
    open_postgresql_page(page, "Clusters")
    expect(page.locator("table.clusters tbody tr")).to_have_count(3)
    page.select_option("#id_environment", "prod")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.clusters tbody tr")).to_have_count(2)
    page.get_by_role("link", name="Name").click()  # sort by name, descending now
    expect(page.locator("table.clusters tbody tr").first).to_contain_text("app2-prod")
    screenshot(page, "cluster-list")

    open_postgresql_page(page, "Servers")
    expect(page.locator("table.servers tbody tr")).to_have_count(7)  # six in clusters, one spare
    screenshot(page, "server-list")

    open_postgresql_page(page, "Spare pool")
    expect(page.locator("table.pool tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Pull and lock")).to_have_count(0)
    expect(page.get_by_role("button", name="Release")).to_have_count(0)

    page.get_by_role("link", name="Database requests").click()
    expect(page.get_by_role("link", name="Request a database")).to_have_count(0)
    screenshot(page, "request-list")
