from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from django.utils import timezone

from rocketdbaas.activities.models import Activity, ActivityType, AppendOnlyError
from rocketdbaas.activities.schemas import ActivitiesSection
from rocketdbaas.activities.services import cluster_activities, record_activity
from rocketdbaas.activities.tests.conftest import make_cluster
from rocketdbaas.inventory.models import Application

URL = "/api/postgresql/activities"


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


def snapshot():
    return list(Activity.objects.order_by("id").values_list("id", "type", "ticket_url", "planned", "summary"))


def down(cluster="pg-orders", **extra):
    return {"type": "Down", "cluster": cluster, "summary": "primary unreachable", "planned": False, **extra}


# --- recording --------------------------------------------------------------------------------


def test_record_one_activity(dba_api, dba_user, orders):
    response = dba_api.post(
        URL,
        json=down(
            server="pg-orders-1", ticketUrl="https://tickets.example.com/INC-42", details={"by": "pager"}
        ),
        headers={"X-Request-ID": "req-77"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "Down" and body["cluster"] == "pg-orders" and body["server"] == "pg-orders-1"
    assert body["ticketUrl"] == "https://tickets.example.com/INC-42"
    assert body["planned"] is False and body["details"] == {"by": "pager"}
    assert body["recordedBy"] == dba_user.username and body["requestId"] == "req-77"
    assert abs(datetime.fromisoformat(body["occurredAt"]) - timezone.now()) < timedelta(seconds=30)
    assert Activity.objects.get(pk=body["id"]).cluster == orders


def test_server_alone_names_its_cluster_and_type_is_case_insensitive(dba_api, orders):
    response = dba_api.post(
        "/api/PostgreSQL/activities/",
        json={"type": "DbRestart", "server": "pg-orders-2", "summary": "restart"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["cluster"] == "pg-orders"


def test_bulk_post_records_all(dba_api, orders, billing):
    at = "2026-11-02T10:00:00Z"
    response = dba_api.post(URL, json=[down(occurredAt=at), down("pg-billing", occurredAt=at)])
    assert response.status_code == 201, response.content
    assert [a["cluster"] for a in response.json()] == ["pg-orders", "pg-billing"]
    assert Activity.objects.count() == 2


def test_bulk_post_is_all_or_nothing(dba_api, orders):
    record_activity(dbms_type="postgresql", type=ActivityType.PATCH, summary="before", cluster=orders)
    before = snapshot()
    response = dba_api.post(URL, json=[down(), down("pg-nowhere"), down(ticketUrl="ftp://x/1")])
    body = assert_problem(response, 422)
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"1.cluster", "2.ticketUrl"}
    assert snapshot() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (down("pg-nowhere"), "cluster"),
        (down(server="no-such-host"), "server"),
        (down(server="pg-billing-1"), "server"),
        (down(ticketUrl="not a url"), "ticketUrl"),
        (down(ticketUrl="javascript:alert(1)"), "ticketUrl"),
        (down(ticketUrl="ftp://tickets.example.com/1"), "ticketUrl"),
        (down(occurredAt="2999-01-01T00:00:00Z"), "occurredAt"),
        (down(occurredAt="2026-11-01T10:00:00"), "occurredAt"),
        ({**down(), "type": "Explosion"}, "type"),
        ({**down(), "type": None}, "type"),
        ({**down(), "summary": ""}, "summary"),
        ({"type": "Down", "summary": "where?"}, "cluster"),
        ({**down(), "type": "Correction"}, "corrects"),
        (down(corrects=999999), "corrects"),
        (down(details=["not", "an", "object"]), "details"),
    ],
)
def test_bad_activity_is_422_and_changes_nothing(dba_api, orders, billing, payload, field):
    from rocketdbaas.activities.tests.conftest import make_server

    make_server("pg-billing-1", billing)
    before = snapshot()
    body = assert_problem(dba_api.post(URL, json=payload), 422)
    assert any(field in (e.get("field") or "") for e in body.get("errors", [])), body
    assert snapshot() == before


def test_cluster_of_another_type_is_unknown(dba_api, mongo_cluster):
    body = assert_problem(dba_api.post(URL, json=down("mdb-catalog")), 422)
    assert "mdb-catalog" in body["errors"][0]["message"]
    assert Activity.objects.count() == 0


def test_unknown_dbms_type_is_404(dba_api, orders):
    assert_problem(dba_api.post("/api/oracle/activities", json=down()), 404)
    assert_problem(dba_api.get("/api/oracle/activities"), 404)


@pytest.mark.parametrize("client", ["viewer_api", "readonly_api", "owner_api", "anon_api"])
def test_only_dba_and_admin_record(request, orders, client):
    api = request.getfixturevalue(client)
    response = api.post(URL, json=down())
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/problem+json")
    assert Activity.objects.count() == 0


def test_admin_records(admin_api, orders):
    assert admin_api.post(URL, json=down()).status_code == 201


# --- append-only ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_activities_cannot_be_changed_or_deleted_through_the_api(dba_api, orders, method):
    activity = record_activity(dbms_type="postgresql", type=ActivityType.DOWN, summary="x", cluster=orders)
    before = snapshot()
    for path in (f"{URL}/{activity.pk}", URL, f"{URL}/{activity.pk}/corrections", f"{URL}/downtime"):
        response = getattr(dba_api, method)(path, json={"summary": "rewritten"})
        assert_problem(response, 405)
        assert method.upper() not in response["Allow"]
    assert snapshot() == before


def test_model_layer_refuses_changes(orders):
    activity = record_activity(dbms_type="postgresql", type=ActivityType.DOWN, summary="x", cluster=orders)
    activity.summary = "rewritten"
    with pytest.raises(AppendOnlyError):
        activity.save()
    with pytest.raises(AppendOnlyError):
        activity.delete()
    with pytest.raises(AppendOnlyError):
        Activity.objects.filter(pk=activity.pk).update(summary="rewritten")
    with pytest.raises(AppendOnlyError):
        Activity.objects.all().delete()
    assert Activity.objects.get(pk=activity.pk).summary == "x"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger guard is PostgreSQL's")
def test_database_refuses_raw_update_and_delete(orders):
    activity = record_activity(dbms_type="postgresql", type=ActivityType.DOWN, summary="x", cluster=orders)
    for sql in (
        "UPDATE activities_activity SET summary = 'rewritten' WHERE id = %s",
        "DELETE FROM activities_activity WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, [activity.pk])
    assert Activity.objects.get(pk=activity.pk).summary == "x"


def test_admin_is_read_only(orders):
    from tests.support.fixtures import make_user

    superuser = make_user("root-admin", "admin", is_staff=True, is_superuser=True)
    activity = record_activity(dbms_type="postgresql", type=ActivityType.DOWN, summary="x", cluster=orders)
    client = Client()
    client.force_login(superuser)
    assert client.get("/admin/activities/activity/").status_code == 200
    page = client.get(f"/admin/activities/activity/{activity.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.get("/admin/activities/activity/add/").status_code == 403
    assert (
        client.post(f"/admin/activities/activity/{activity.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    client.post(f"/admin/activities/activity/{activity.pk}/change/", {"summary": "rewritten"})
    assert Activity.objects.get(pk=activity.pk).summary == "x"


# --- corrections ------------------------------------------------------------------------------


def test_adding_a_ticket_later_is_a_correction_and_the_list_shows_the_latest(dba_api, orders):
    event = dba_api.post(URL, json=down()).json()
    assert dba_api.get(URL, hasTicket="true").json()["count"] == 0

    first = dba_api.post(
        f"{URL}/{event['id']}/corrections",
        json={"summary": "ticket opened", "ticketUrl": "https://tickets.example.com/INC-1"},
    )
    assert first.status_code == 201, first.content
    assert first.json()["type"] == "Correction" and first.json()["corrects"] == event["id"]
    # A correction of a correction still amends the event itself.
    second = dba_api.post(
        f"{URL}/{first.json()['id']}/corrections",
        json={"summary": "moved to the problem ticket", "ticketUrl": "https://tickets.example.com/PRB-9"},
    )
    assert second.json()["corrects"] == event["id"]

    listed = dba_api.get(URL).json()
    assert listed["count"] == 1  # corrections are folded into their event
    item = listed["items"][0]
    assert item["id"] == event["id"] and item["ticketUrl"] == "https://tickets.example.com/PRB-9"
    assert item["correctionCount"] == 2
    assert dba_api.get(URL, hasTicket="true").json()["count"] == 1
    assert dba_api.get(URL, includeCorrections="true").json()["count"] == 3

    detail = dba_api.get(f"{URL}/{event['id']}").json()
    assert [c["ticketUrl"] for c in detail["corrections"]] == [
        "https://tickets.example.com/INC-1",
        "https://tickets.example.com/PRB-9",
    ]
    # The original row is untouched.
    assert Activity.objects.get(pk=event["id"]).ticket_url == ""


def test_correction_can_mark_an_event_planned(dba_api, orders):
    event = dba_api.post(URL, json=down()).json()
    assert dba_api.get(URL, planned="false").json()["count"] == 1
    response = dba_api.post(
        URL, json={"corrects": event["id"], "planned": True, "summary": "it was the announced window"}
    )
    assert response.status_code == 201, response.content
    assert dba_api.get(URL, planned="false").json()["count"] == 0
    assert dba_api.get(URL, planned="true").json()["items"][0]["id"] == event["id"]


def test_bad_corrections_change_nothing(dba_api, orders, billing):
    event = dba_api.post(URL, json=down()).json()
    before = snapshot()
    assert_problem(
        dba_api.post(f"{URL}/{event['id']}/corrections", json={"summary": "x", "ticketUrl": "nope"}), 422
    )
    assert_problem(dba_api.post(f"{URL}/999999/corrections", json={"summary": "x"}), 404)
    assert_problem(dba_api.post(f"{URL}/{event['id']}/corrections", json={"ticketUrl": "https://a.b/c"}), 422)
    assert_problem(dba_api.post(URL, json={"corrects": event["id"], "type": "Down", "summary": "x"}), 422)
    assert_problem(
        dba_api.post(URL, json={"corrects": event["id"], "cluster": "pg-billing", "summary": "x"}), 422
    )
    assert_problem(
        dba_api.post(f"/api/mongodb/activities/{event['id']}/corrections", json={"summary": "x"}), 404
    )
    assert snapshot() == before


def test_viewer_cannot_correct(viewer_api, orders):
    event = record_activity(dbms_type="postgresql", type=ActivityType.DOWN, summary="x", cluster=orders)
    assert_problem(viewer_api.post(f"{URL}/{event.pk}/corrections", json={"summary": "x"}), 403)
    assert Activity.objects.count() == 1


# --- listing ----------------------------------------------------------------------------------


@pytest.fixture
def history(orders, billing):
    base = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [
        (orders, ActivityType.DOWN, False, "https://t.example.com/1", 0),
        (orders, ActivityType.UP, False, "", 1),
        (orders, ActivityType.PATCH, True, "", 2),
        (billing, ActivityType.FAILOVER, False, "", 3),
        (billing, ActivityType.SWITCHOVER, True, "", 4),
    ]
    return [
        record_activity(
            dbms_type="postgresql",
            type=kind,
            summary=f"{kind} {cluster.name}",
            cluster=cluster,
            planned=planned,
            ticket_url=ticket,
            occurred_at=base + timedelta(days=day),
        )
        for cluster, kind, planned, ticket, day in rows
    ]


def ids(response):
    assert response.status_code == 200, response.content
    return [a["id"] for a in response.json()["items"]]


def test_list_is_newest_first_and_paginated(viewer_api, history):
    everything = viewer_api.get(URL).json()
    assert everything["count"] == 5
    assert ids(viewer_api.get(URL)) == [a.pk for a in reversed(history)]
    page = viewer_api.get(URL, limit=2, offset=2).json()
    assert page["count"] == 5 and [a["id"] for a in page["items"]] == [history[2].pk, history[1].pk]


def test_list_filters(viewer_api, history):
    h = history
    assert ids(viewer_api.get(URL, cluster="pg-billing")) == [h[4].pk, h[3].pk]
    assert ids(viewer_api.get(URL, type=["Down", "Up"])) == [h[1].pk, h[0].pk]
    assert ids(viewer_api.get(URL, planned="true")) == [h[4].pk, h[2].pk]
    assert ids(viewer_api.get(URL, since="2026-10-02T00:00:00Z", until="2026-10-04T00:00:00Z")) == [
        h[2].pk,
        h[1].pk,
    ]
    assert ids(viewer_api.get(URL, hasTicket="true")) == [h[0].pk]
    assert len(ids(viewer_api.get(URL, hasTicket="false"))) == 4


def test_list_bad_filters(viewer_api, history):
    assert_problem(viewer_api.get(URL, cluster="pg-nowhere"), 404)
    assert_problem(viewer_api.get(URL, server="no-such-host"), 404)
    assert_problem(viewer_api.get(URL, type="Explosion"), 422)
    assert_problem(viewer_api.get(URL, since="yesterday"), 422)
    assert_problem(viewer_api.get(URL, limit=0), 422)


def test_get_one(viewer_api, history):
    body = viewer_api.get(f"{URL}/{history[0].pk}").json()
    assert body["id"] == history[0].pk and body["corrections"] == []
    assert_problem(viewer_api.get(f"{URL}/999999"), 404)
    assert_problem(viewer_api.get(f"/api/mongodb/activities/{history[0].pk}"), 404)


def test_owner_sees_only_own_applications(owner_api, owner_user, history):
    Application.objects.get(name="app-pg-orders").owners.add(owner_user)
    listed = owner_api.get(URL).json()
    assert listed["count"] == 3 and {a["cluster"] for a in listed["items"]} == {"pg-orders"}
    assert_problem(owner_api.get(f"{URL}/{history[3].pk}"), 404)
    assert_problem(owner_api.get(URL, cluster="pg-billing"), 404)


def test_list_query_count_does_not_grow_with_rows(viewer_api, orders, django_assert_max_num_queries):
    for i in range(30):
        event = record_activity(
            dbms_type="postgresql", type=ActivityType.DOWN, summary=f"{i}", cluster=orders
        )
        Activity.objects.create(
            dbms_type="postgresql",
            type=ActivityType.CORRECTION,
            summary="ticket",
            cluster=orders,
            occurred_at=timezone.now(),
            ticket_url=f"https://t.example.com/{i}",
            corrects=event,
        )
    # auth (token lookup, its last-used stamp) + count + page
    with django_assert_max_num_queries(4):
        body = viewer_api.get(URL).json()
    assert body["count"] == 30 and all(a["ticketUrl"] for a in body["items"])


def test_cluster_detail_section(orders, django_assert_num_queries):
    other = make_cluster("pg-other")
    for i in range(25):
        record_activity(
            dbms_type="postgresql",
            type=ActivityType.PATCH,
            summary=f"step {i}",
            cluster=orders,
            occurred_at=timezone.now() - timedelta(minutes=25 - i),
        )
    record_activity(dbms_type="postgresql", type=ActivityType.PATCH, summary="elsewhere", cluster=other)
    with django_assert_num_queries(1):
        data = cluster_activities(orders)
    section = ActivitiesSection.model_validate(data).model_dump(by_alias=True, mode="json")
    recent = section["recentActivities"]
    assert len(recent) == 20 and recent[0]["summary"] == "step 24" and recent[-1]["summary"] == "step 5"
    assert {"occurredAt", "ticketUrl", "type"} <= set(recent[0])
