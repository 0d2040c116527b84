from django.template.loader import render_to_string
from django.test import Client

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.activities.sections import section
from rocketdbaas.activities.services import record_activity

LIST = "/activities/postgresql/"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_list_page_with_filters(viewer_user, orders, billing):
    record_activity(
        dbms_type="postgresql", type=ActivityType.DOWN, summary="orders down", cluster=orders, planned=False
    )
    record_activity(
        dbms_type="postgresql", type=ActivityType.PATCH, summary="billing patched", cluster=billing
    )
    client = client_for(viewer_user)
    page = client.get(LIST)
    assert page.status_code == 200
    assert b"orders down" in page.content and b"billing patched" in page.content
    assert b"Record an activity" not in page.content  # viewers only read
    filtered = client.get(LIST, {"cluster": "pg-orders", "type": "Down"})
    assert b"orders down" in filtered.content and b"billing patched" not in filtered.content
    assert b"no ticket" in filtered.content
    assert client.get(LIST, {"cluster": "pg-nowhere"}).status_code == 200
    assert client.get("/activities/oracle/").status_code == 404
    assert Client().get(LIST).status_code == 302  # login required


def test_dba_records_and_links_a_ticket(dba_user, orders):
    client = client_for(dba_user)
    assert b"Record an activity" in client.get(LIST).content
    response = client.post(
        "/activities/postgresql/record/",
        {"type": "Down", "cluster": "pg-orders", "planned": "false", "summary": "pager: primary gone"},
    )
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert activity.recorded_by == dba_user and activity.planned is False
    bad = client.post(
        f"/activities/postgresql/{activity.pk}/ticket/",
        {"ticket_url": "ftp://x", "summary": "t", "next": "https://evil.example.com/"},
    )
    assert bad.status_code == 302 and bad["Location"] == LIST
    assert Activity.objects.count() == 1
    client.post(
        f"/activities/postgresql/{activity.pk}/ticket/",
        {"ticket_url": "https://tickets.example.com/INC-7", "summary": "Ticket linked", "next": LIST},
    )
    page = client.get(LIST)
    assert b"https://tickets.example.com/INC-7" in page.content


def test_record_form_shows_service_errors(dba_user, orders):
    response = client_for(dba_user).post(
        "/activities/postgresql/record/",
        {"type": "Down", "cluster": "pg-nowhere", "planned": "false", "summary": "x", "ticket_url": "nope"},
    )
    assert response.status_code == 422
    assert b"No postgresql cluster named" in response.content and b"valid http(s) URL" in response.content
    assert Activity.objects.count() == 0


def test_viewer_cannot_post(viewer_user, orders):
    client = client_for(viewer_user)
    assert (
        client.post("/activities/postgresql/record/", {"type": "Down", "cluster": "pg-orders"}).status_code
        == 403
    )
    event = record_activity(dbms_type="postgresql", type=ActivityType.DOWN, summary="x", cluster=orders)
    response = client.post(
        f"/activities/postgresql/{event.pk}/ticket/", {"ticket_url": "https://a.b/c", "summary": "s"}
    )
    assert response.status_code == 403
    assert Activity.objects.count() == 1


def test_cluster_panel(viewer_user, orders):
    record_activity(
        dbms_type="postgresql", type=ActivityType.FAILOVER, summary="failover to replica", cluster=orders
    )
    html = render_to_string(section.template, {"data": section.provider(orders), "cluster": orders})
    assert "failover to replica" in html and "100.0%" in html
