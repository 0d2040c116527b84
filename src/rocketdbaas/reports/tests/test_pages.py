"""Report pages, CSV downloads and the owners' dashboard, through Django's test client."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from rocketdbaas.activities.models import ActivityType
from rocketdbaas.contacts.models import ApplicationContact, Contact
from rocketdbaas.inventory.models import Application
from rocketdbaas.reports.tests.conftest import activity, make_cluster, make_server
from rocketdbaas.reports.tests.test_api import REPORTS, _grow


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer(viewer_user):
    return client_for(viewer_user)


@pytest.fixture
def owner(owner_user):
    return client_for(owner_user)


def test_pages_need_a_login(db):
    response = Client().get("/reports/postgresql/costs/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_index_lists_every_report(viewer, db):
    response = viewer.get("/reports/postgresql/")
    assert response.status_code == 200
    for slug in REPORTS:
        assert f'href="/reports/postgresql/{slug}/"' in response.content.decode()


def test_unknown_dbms_type_is_404(viewer, db):
    assert viewer.get("/reports/oracle/").status_code == 404
    assert viewer.get("/reports/oracle/counts/").status_code == 404


@pytest.mark.parametrize("slug", REPORTS)
def test_report_page_has_chart_data_table_and_csv(viewer, fleet, slug):
    activity(ActivityType.FAILOVER, fleet.clusters["crm-prod-pg"], "2026-05-01 00:00")
    response = viewer.get(f"/reports/PostgreSQL/{slug}/", {"since": "2026-04", "until": "2026-06"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="data report-table"' in page
    assert "Download CSV" in page and f"/api/postgresql/reports/{slug}?" in page

    csv_response = viewer.get(
        f"/reports/postgresql/{slug}/", {"since": "2026-04", "until": "2026-06", "format": "csv"}
    )
    assert csv_response.status_code == 200
    assert csv_response["Content-Type"].startswith("text/csv")
    assert "attachment;" in csv_response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(csv_response.content.decode())))
    report = response.context["report"]
    assert rows[0] == [column.label for column in report.columns]
    assert len(rows) == len(report.rows) + 1
    if report.chart["labels"]:
        assert f'id="chart-{slug}-data"' in page and "chart-4.6.1.umd.min.js" in page
        embedded = page.split(f'id="chart-{slug}-data" type="application/json">')[1].split("</script>")[0]
        data = json.loads(embedded)
        assert data["labels"] == report.chart["labels"]


def test_counts_csv_content(viewer, fleet):
    response = viewer.get("/reports/postgresql/counts/", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["Application", "Environment", "Clusters", "Servers", "Databases"],
        ["billing", "dev", "1", "1", "0"],
        ["billing", "prod", "1", "2", "0"],
        ["crm", "prod", "1", "3", "0"],
    ]


def test_csv_cells_cannot_become_formulas(viewer, db):
    app = Application.objects.create(name='=HYPERLINK("http://evil")')
    cluster = make_cluster("evil-pg", app, "prod")
    make_server("evil1", cluster, 1, 1, 1)
    rows = list(
        csv.reader(io.StringIO(viewer.get("/reports/postgresql/counts/", {"format": "csv"}).content.decode()))
    )
    assert rows[1][0] == '\'=HYPERLINK("http://evil")'


def test_names_are_escaped_in_the_table_and_the_chart_data(viewer, db):
    app = Application.objects.create(name="<script>alert(1)</script>")
    cluster = make_cluster("xss-pg", app, "prod")
    make_server("xss1", cluster, 1, 1, 1)
    page = viewer.get("/reports/postgresql/counts/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the table
    assert "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E" in page  # json_script


def test_bad_parameters_show_the_problem(viewer, db):
    response = viewer.get("/reports/postgresql/costs/", {"since": "2026-13"})
    assert response.status_code == 400
    assert "Use a month written YYYY-MM" in response.content.decode()
    response = viewer.get("/reports/postgresql/unpatched/", {"days": "-3"})
    assert response.status_code == 400


def test_owner_pages_show_only_their_applications(owner, fleet):
    page = owner.get("/reports/postgresql/counts/").content.decode()
    assert "billing" in page and "crm" not in page


@pytest.mark.parametrize("slug", REPORTS)
def test_report_page_queries_do_not_grow_with_the_fleet(viewer, fleet, slug):
    params = {"since": "2026-04", "until": "2026-06"}
    _grow(fleet, 1)  # one of everything, so that what grows below is only the number
    with CaptureQueriesContext(connection) as before:
        viewer.get(f"/reports/postgresql/{slug}/", params)
    _grow(fleet, 4, first=1)
    with CaptureQueriesContext(connection) as after:
        viewer.get(f"/reports/postgresql/{slug}/", params)
    assert len(after.captured_queries) == len(before.captured_queries)


# ---------------------------------------------------------------- my databases


def test_my_databases_shows_only_the_owners_applications(owner, fleet):
    activity(ActivityType.FAILOVER, fleet.clusters["crm-prod-pg"], "2026-05-01 00:00")
    activity(ActivityType.DOWN, fleet.clusters["billing-prod-pg"], "2026-05-02 00:00")
    response = owner.get("/my-databases/")
    assert response.status_code == 200
    dashboard = response.context["dashboard"]
    assert [app.name for app in dashboard.applications] == ["billing"]
    assert {s.cluster.name for s in dashboard.clusters} == {
        "billing-prod-pg",
        "billing-dev-pg",
        "billing-prod-mongo",
    }
    assert [a.cluster.name for a in dashboard.recent_activities] == ["billing-prod-pg"]
    page = response.content.decode()
    assert "crm" not in page
    prod = next(s for s in dashboard.clusters if s.cluster.name == "billing-prod-pg")
    assert prod.cluster.server_count == 2 and prod.health == "unknown" and prod.unpatched_servers == 2


def test_my_databases_for_someone_owning_nothing(viewer, fleet):
    response = viewer.get("/my-databases/")
    assert response.status_code == 200
    assert "not an owner of any application" in response.content.decode()
    assert 'name="email"' not in response.content.decode()
    # The form is not offered, and a forged post is refused.
    assert (
        viewer.post(
            "/my-databases/", {"application": "crm", "name": "X", "email": "x@example.com"}
        ).status_code
        == 403
    )
    assert not Contact.objects.exists()


SIGN_UP = {
    "application": "billing",
    "name": "Nina Night",
    "email": "Nina@Example.com",
    "role": "technical",
    "patching_emails": "on",
}


def test_owner_signs_up_a_contact(owner, fleet, owner_user):
    response = owner.post("/my-databases/", SIGN_UP)
    assert response.status_code == 302 and response["Location"] == "/my-databases/"
    link = ApplicationContact.objects.select_related("contact", "application").get()
    assert (link.application.name, link.contact.email, link.role, link.patching_emails) == (
        "billing",
        "nina@example.com",
        "technical",
        True,
    )
    page = owner.get("/my-databases/").content.decode()
    assert "Nina Night is now a contact of billing." in page and "nina@example.com" in page


def test_owner_cannot_sign_up_for_another_application(owner, fleet):
    response = owner.post("/my-databases/", {**SIGN_UP, "application": "crm"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Contact.objects.exists()


def test_sign_up_errors_keep_the_input(owner, fleet):
    response = owner.post("/my-databases/", {**SIGN_UP, "email": "not-an-email"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="Nina Night"' in page and "Enter a valid email address." in page
    assert not Contact.objects.exists()
    # A clash found by the contacts service shows in the form too.
    assert owner.post("/my-databases/", SIGN_UP).status_code == 302
    response = owner.post("/my-databases/", {**SIGN_UP, "name": "Nina Again"})
    assert response.status_code == 400 and Contact.objects.count() == 1
    assert 'value="Nina Again"' in response.content.decode()


def test_my_databases_queries_do_not_grow(owner, owner_user, fleet):
    owner.get("/my-databases/")
    with CaptureQueriesContext(connection) as before:
        owner.get("/my-databases/")
    for i in range(4):
        app = Application.objects.create(name=f"mine-{i}")
        app.owners.add(owner_user)
        cluster = make_cluster(f"mine-{i}-pg", app, "prod", created="2026-01-01")
        make_server(f"mine-{i}-a", cluster, 2, 4, 10)
        activity(ActivityType.FAILOVER, cluster, "2026-05-03 00:00")
    with CaptureQueriesContext(connection) as after:
        owner.get("/my-databases/")
    assert len(after.captured_queries) == len(before.captured_queries)
