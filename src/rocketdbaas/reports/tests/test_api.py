"""The reports API: shapes, scoping, bad input, permissions, and a constant number of queries."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.support.fixtures import make_user

from rocketdbaas.accounts.models import Role
from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.inventory.models import Application
from rocketdbaas.reports.demo import load_demo
from rocketdbaas.reports.models import RateCard
from rocketdbaas.reports.tests.conftest import activity, make_cluster, make_server

REPORTS = ["counts", "sizes", "backups", "failovers", "downtime", "unpatched", "costs"]


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    return response.json()


@pytest.mark.parametrize("slug", REPORTS)
def test_every_report_answers_camel_case_json(viewer_api, fleet, slug):
    response = viewer_api.get(f"/api/PostgreSQL/reports/{slug}/", since="2026-01", until="2026-06")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dbmsType"] == "postgresql"
    assert {"notes", "summary", "rows"} <= body.keys()
    assert all("_" not in key for row in body["rows"] for key in row)


def test_counts_json(viewer_api, fleet):
    body = viewer_api.get("/api/postgresql/reports/counts").json()
    assert body["summary"] == {"applications": 2, "clusters": 3, "servers": 6, "databases": 0}
    assert body["rows"][0] == {
        "application": "billing",
        "environment": "dev",
        "clusters": 1,
        "servers": 1,
        "databases": 0,
    }


def test_report_list(viewer_api, db):
    body = viewer_api.get("/api/mongodb/reports").json()
    assert [item["slug"] for item in body] == REPORTS
    assert body[0]["path"] == "/api/mongodb/reports/counts"


def test_owners_get_only_their_applications(owner_api, fleet):
    activity(ActivityType.FAILOVER, fleet.clusters["crm-prod-pg"], "2026-05-01 00:00")
    mine = activity(ActivityType.FAILOVER, fleet.clusters["billing-prod-pg"], "2026-05-02 00:00")
    counts = owner_api.get("/api/postgresql/reports/counts").json()
    assert {row["application"] for row in counts["rows"]} == {"billing"}
    failovers = owner_api.get("/api/postgresql/reports/failovers", since="2026-05", until="2026-05").json()
    assert [row["id"] for row in failovers["rows"]] == [mine.pk]
    unpatched = owner_api.get("/api/postgresql/reports/unpatched").json()
    assert {row["application"] for row in unpatched["rows"]} == {"billing"}


def test_an_owner_of_nothing_sees_nothing(owner_api, owner_user, fleet):
    fleet.billing.owners.remove(owner_user)
    assert owner_api.get("/api/postgresql/reports/counts").json()["rows"] == []
    assert owner_api.get("/api/postgresql/reports/costs").json()["rows"] == []


def test_anonymous_is_refused(anon_api):
    assert_problem(anon_api.get("/api/postgresql/reports/counts"), 401)


def test_unknown_dbms_type(viewer_api):
    body = assert_problem(viewer_api.get("/api/oracle/reports/counts"), 404)
    assert body["validTypes"] == ["postgresql", "mongodb"]


@pytest.mark.parametrize(
    ("slug", "params", "field"),
    [
        ("costs", {"since": "2026-13"}, "since"),
        ("costs", {"since": "1969-12"}, "since"),
        ("downtime", {"until": "9999-12"}, "until"),
        ("costs", {"since": "26-01"}, "since"),
        ("costs", {"until": "2026-1"}, "until"),
        ("costs", {"since": "2026-06", "until": "2026-01"}, "since"),
        ("costs", {"since": "2020-01", "until": "2026-01"}, "since"),  # more than 36 months
        ("sizes", {"bucket": "year"}, "bucket"),
        ("unpatched", {"days": "0"}, "days"),
        ("unpatched", {"days": "many"}, "days"),
    ],
)
def test_bad_parameters_are_422(viewer_api, db, slug, params, field):
    body = assert_problem(viewer_api.get(f"/api/postgresql/reports/{slug}", **params), 422)
    assert any(error["field"] in (field, f"{field}") for error in body["errors"]), body


def _queries(api, path, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, **params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def _grow(fleet, n: int, first: int = 0) -> None:
    """More applications, clusters, servers and events: the query count must not follow."""
    for i in range(first, first + n):
        app = Application.objects.create(name=f"extra-{i}")
        cluster = make_cluster(f"extra-{i}-pg", app, "prod", created="2026-01-01")
        make_server(f"extra-{i}-a", cluster, 2, 4, 10, db="15.1")
        make_server(f"extra-{i}-b", cluster, 2, 4, 10, role="replica")
        activity(ActivityType.FAILOVER, cluster, "2026-05-03 00:00")
        activity(ActivityType.DOWN, cluster, "2026-05-03 00:00")
        activity(ActivityType.UP, cluster, "2026-05-03 00:10")


@pytest.mark.parametrize("slug", REPORTS)
def test_report_queries_do_not_grow_with_the_fleet(viewer_api, fleet, slug):
    params = {"since": "2026-04", "until": "2026-06"}
    path = f"/api/postgresql/reports/{slug}"
    _grow(fleet, 1)  # one of everything, so that what grows below is only the number
    viewer_api.get(path, **params)  # the token's first use of the minute is also a write
    before = _queries(viewer_api, path, **params)
    _grow(fleet, 5, first=1)
    assert _queries(viewer_api, path, **params) == before


# ---------------------------------------------------------------- rate card

CARD = {
    "currency": "EUR",
    "rCpu": "10.5",
    "rRam": 2,
    "rDisk": "0.1",
    "rBackup": "0.05",
    "effectiveFrom": "2026-01-01",
}


def _cards():
    return list(RateCard.objects.order_by("pk").values())


def test_admin_creates_and_ends_a_rate_card(admin_api, admin_user):
    response = admin_api.post("/api/postgresql/reports/rateCards/", json=CARD)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["rCpu"] == 10.5 and body["effectiveTo"] is None and body["dbmsType"] == "postgresql"
    card = RateCard.objects.get(pk=body["id"])
    assert card.r_cpu == Decimal("10.5") and card.updated_by == admin_user
    recorded = Activity.objects.get(type=ActivityType.OTHER)
    assert "Rate card created" in recorded.summary and recorded.recorded_by == admin_user

    response = admin_api.patch(
        f"/api/postgresql/reports/rateCards/{card.pk}", json={"effectiveTo": "2026-07-01"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["effectiveTo"] == "2026-07-01"
    # The next card starts where the first ends.
    response = admin_api.post(
        "/api/postgresql/reports/rateCards", json={**CARD, "effectiveFrom": "2026-07-01"}
    )
    assert response.status_code == 201
    listed = admin_api.get("/api/postgresql/reports/rateCards", limit=1).json()
    assert listed["count"] == 2 and listed["items"][0]["effectiveFrom"] == "2026-07-01"
    assert admin_api.get(f"/api/postgresql/reports/rateCards/{card.pk}").json()["currency"] == "EUR"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"effectiveFrom": "2026-01-15"}, "effectiveFrom"),
        ({"effectiveTo": "2026-02-02"}, "effectiveTo"),
        ({"effectiveTo": "2025-12-01"}, "effectiveTo"),
        ({"rCpu": "-1"}, "rCpu"),
        ({"rRam": "1.00001"}, "rRam"),
        ({"currency": "euro"}, "currency"),
        ({"effectiveFrom": "someday"}, "effectiveFrom"),
    ],
)
def test_bad_rate_cards_are_422_and_change_nothing(admin_api, db, change, field):
    before = _cards()
    body = assert_problem(admin_api.post("/api/postgresql/reports/rateCards", json={**CARD, **change}), 422)
    assert field in {error["field"] for error in body["errors"]}, body
    assert _cards() == before


def test_overlapping_rate_card_is_409(admin_api, db):
    assert admin_api.post("/api/postgresql/reports/rateCards", json=CARD).status_code == 201
    before = _cards()
    body = assert_problem(
        admin_api.post("/api/postgresql/reports/rateCards", json={**CARD, "effectiveFrom": "2026-05-01"}), 409
    )
    assert body["conflictingRateCard"] == before[0]["id"]
    assert _cards() == before
    # Another type's calendar is its own.
    assert admin_api.post("/api/mongodb/reports/rateCards", json=CARD).status_code == 201


def test_patching_into_an_overlap_is_409(admin_api, db):
    first = admin_api.post(
        "/api/postgresql/reports/rateCards", json={**CARD, "effectiveTo": "2026-03-01"}
    ).json()
    admin_api.post("/api/postgresql/reports/rateCards", json={**CARD, "effectiveFrom": "2026-03-01"})
    before = _cards()
    assert_problem(
        admin_api.patch(f"/api/postgresql/reports/rateCards/{first['id']}", json={"effectiveTo": None}), 409
    )
    assert_problem(
        admin_api.patch(f"/api/postgresql/reports/rateCards/{first['id']}", json={"currency": None}), 422
    )
    assert_problem(admin_api.patch("/api/postgresql/reports/rateCards/999999", json={"rCpu": 1}), 404)
    assert_problem(admin_api.patch(f"/api/mongodb/reports/rateCards/{first['id']}", json={"rCpu": 1}), 404)
    assert _cards() == before


@pytest.mark.parametrize("client", ["dba_api", "viewer_api", "owner_api", "readonly_api"])
def test_only_admins_write_rate_cards(request, client, db):
    card = RateCard.objects.create(
        dbms_type="postgresql",
        r_cpu=1,
        r_ram=1,
        r_disk=1,
        r_backup=1,
        effective_from=date(2025, 1, 1),
        effective_to=date(2025, 6, 1),
    )
    api = request.getfixturevalue(client)
    before = _cards()
    assert_problem(api.post("/api/postgresql/reports/rateCards", json=CARD), 403)
    assert_problem(api.patch(f"/api/postgresql/reports/rateCards/{card.pk}", json={"rCpu": 2}), 403)
    assert _cards() == before
    # Everyone signed in reads them.
    assert api.get("/api/postgresql/reports/rateCards").status_code == 200


def test_rate_cards_price_the_costs_report(admin_api, viewer_api, fleet):
    admin_api.post("/api/postgresql/reports/rateCards", json={**CARD, "effectiveFrom": "2026-04-01"})
    body = viewer_api.get("/api/postgresql/reports/costs", since="2026-04", until="2026-04").json()
    crm = next(row for row in body["rows"] if row["application"] == "crm")
    assert crm["totalCost"] == 24 * 10.5 + 96 * 2 + 600 * 0.1 and crm["currency"] == "EUR"
    assert body["summary"]["rateCards"][0]["effectiveFrom"] == "2026-04-01"


def test_demo_rate_cards_are_loaded_once(db):
    load_demo(StringIO())
    load_demo(StringIO())
    assert sorted(RateCard.objects.values_list("dbms_type", flat=True)) == ["mongodb", "postgresql"]


def test_admin_site_edits_rate_cards_through_the_service(db, client):

    root = make_user("root-admin", Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(root)
    form = {
        "dbms_type": "postgresql",
        "effective_from": "2026-01-01",
        "currency": "USD",
        "r_cpu": "1",
        "r_ram": "1",
        "r_disk": "1",
        "r_backup": "1",
        "notes": "",
    }
    response = client.post("/admin/reports/ratecard/add/", form)
    assert response.status_code == 302, response.content
    card = RateCard.objects.get()
    assert card.updated_by == root
    assert Activity.objects.filter(type=ActivityType.OTHER, summary__startswith="Rate card created").exists()
    # An overlapping period is a form error, nothing saved.
    response = client.post("/admin/reports/ratecard/add/", {**form, "effective_from": "2026-03-01"})
    assert response.status_code == 200 and "overlaps" in response.content.decode()
    response = client.post("/admin/reports/ratecard/add/", {**form, "effective_from": "2026-03-15"})
    assert response.status_code == 200 and "month boundaries" in response.content.decode()
    assert RateCard.objects.count() == 1
    response = client.post(
        f"/admin/reports/ratecard/{card.pk}/change/", {**form, "effective_to": "2026-06-01"}
    )
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.effective_to == date(2026, 6, 1)
    # Cards are never deleted: past costs depend on them.
    assert client.post(f"/admin/reports/ratecard/{card.pk}/delete/", {"post": "yes"}).status_code == 403
    assert RateCard.objects.count() == 1
