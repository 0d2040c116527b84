"""What any API input must be, checked before the database for every operation: bounded pages,
text the database can store, numbers of the documented type, real timestamps. Each refusal is a
4xx problem detail that names the field, and changes nothing."""

import pytest

from rocketdbaas.api import api
from rocketdbaas.inventory.models import Application, Server
from rocketdbaas.inventory.tests.helpers import assert_problem, db_state


def _lists() -> list[str]:
    """Every documented list operation: the GETs that take limit and offset."""
    document = api.get_openapi_schema()
    urls = []
    for path, item in document["paths"].items():
        names = {p["name"] for p in item.get("get", {}).get("parameters", [])}
        if {"limit", "offset"} <= names:
            urls.append(path.replace("{dbms_type}", "postgresql").replace("{name}", "app1"))
    return sorted(urls)


LISTS = _lists()


def test_the_lists_are_found():
    assert "/api/postgresql/poolServers" in LISTS and "/api/contacts" in LISTS
    assert len(LISTS) >= 10


@pytest.mark.django_db
@pytest.mark.parametrize("url", LISTS)
def test_every_list_bounds_limit_and_offset(admin_api, url):
    Application.objects.create(name="app1")
    assert admin_api.get(url).status_code == 200
    for field, value in [
        ("offset", 2**63),
        ("offset", 10**13),
        ("offset", -1),
        ("limit", 0),
        ("limit", 10**6),
    ]:
        body = assert_problem(admin_api.get(url, **{field: value}), 422)
        assert [e["field"] for e in body["errors"]] == [field], (url, field, value)
    assert admin_api.get(url, offset=10**12, limit=1).json()["items"] == []


@pytest.mark.django_db
def test_lists_keep_their_default_page_size(admin_api):
    for url, default in [("/api/postgresql/poolServers", 500), ("/api/postgresql/activities", 100)]:
        limit = next(
            p
            for p in api.get_openapi_schema()["paths"][url.replace("postgresql", "{dbms_type}")]["get"][
                "parameters"
            ]
            if p["name"] == "limit"
        )
        assert limit["schema"]["default"] == default


SERVER = {"serverName": "pg-n1", "cpu": 4, "ram": 16, "dbGigs": 100}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,field",
    [
        ({**SERVER, "serverName": "pg\x00n1"}, "serverName"),
        ({**SERVER, "datacenter": "dc\ud800"}, "datacenter"),
        ([SERVER, {**SERVER, "serverName": "pg-n2", "os": "x\x00"}], "1.os"),
    ],
)
def test_text_the_database_cannot_store_is_422_naming_the_field(dba_api, body, field):
    before = db_state()
    response = dba_api.post("/api/postgresql/poolServers", json=body)
    assert [e["field"] for e in assert_problem(response, 422)["errors"]] == [field]
    assert db_state() == before


@pytest.mark.django_db
def test_nul_in_query_and_path_is_422(dba_api):
    body = assert_problem(dba_api.delete("/api/postgresql/poolServers", serverName="pg\x00"), 422)
    assert body["errors"][0]["field"] == "serverName"
    body = assert_problem(dba_api.get("/api/applications/a%00b"), 422)
    assert body["errors"][0]["field"] == "path"
    body = assert_problem(dba_api.post("/api/postgresql/backups", json={"details": {"k\x00": 1}}), 422)
    assert body["errors"][0]["field"] == "details.k\x00"


@pytest.mark.django_db
@pytest.mark.parametrize("value", [True, False, 4.0, 4.5, 2**63])
def test_integers_are_integers(dba_api, value):
    response = dba_api.post("/api/postgresql/poolServers", json={**SERVER, "cpu": value})
    # The body may be one server or a list, so its fields are named by their place in the list.
    assert [e["field"] for e in assert_problem(response, 422)["errors"]] == ["0.cpu"]
    assert not Server.objects.exists()


@pytest.mark.django_db
def test_timestamps_keep_to_real_utc_dates(admin_api):
    far_offset = admin_api.get("/api/postgresql/backups", since="0283-03-07T03:44:36+19:28")
    assert far_offset.status_code == 200, far_offset.content
    for since in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        body = assert_problem(admin_api.get("/api/postgresql/activities", since=since), 422)
        assert body["errors"][0]["field"] == "since"


@pytest.mark.django_db
def test_unknown_routes_and_methods_are_problem_details(admin_api):
    body = assert_problem(admin_api.get("/api/no/such/route"), 404)
    assert body["instance"] == "/api/no/such/route"
    body = assert_problem(admin_api.put("/api/applications", json={}), 405)
    assert "GET" in body["detail"]


@pytest.mark.django_db
def test_an_id_past_the_database_integers_is_422(dba_api):
    body = {"type": "Other", "summary": "s", "corrects": 2**64}
    response = dba_api.post("/api/postgresql/activities", json=body)
    assert "corrects" in [e["field"] for e in assert_problem(response, 422)["errors"]]
