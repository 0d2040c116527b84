from datetime import timedelta

import pytest
from django.utils import timezone

from rocketdbaas.intake import services
from rocketdbaas.intake.models import IntakeRequest, RequestEvent
from rocketdbaas.inventory.models import Cluster, PoolStatus, Server

from .conftest import spec, valid_payload
from .test_services import state


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_submit_and_read_back(owner_api, owner_user):
    response = owner_api.post("/api/intake", json=valid_payload())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith(f"REQ-{timezone.now().year}-")
    assert body["status"] == "submitted"
    assert body["submittedBy"] == owner_user.username
    assert body["application"] == "Billing" and body["newApplication"] is True
    assert body["numberOfServers"] == 2 and body["dbGigs"] == 100
    assert body["url"] == f"/requests/{body['reference']}/"
    assert [e["toStatus"] for e in body["events"]] == ["submitted"]

    again = owner_api.get(f"/api/intake/{body['reference']}/")
    assert again.status_code == 200 and again.json()["contacts"] == [
        {"name": "Ops Team", "email": "ops@example.com"}
    ]
    listing = owner_api.get("/api/intake", status="submitted", dbmsType="PostgreSQL").json()
    assert listing["count"] == 1 and listing["items"][0]["reference"] == body["reference"]


def test_requester_defaults_to_the_caller(dba_user, dba_api):
    dba_user.first_name, dba_user.last_name, dba_user.email = "Dave", "Dba", "dave@example.com"
    dba_user.save()
    payload = valid_payload()
    del payload["requesterName"], payload["requesterEmail"]
    body = dba_api.post("/api/intake", json=payload).json()
    assert (body["requesterName"], body["requesterEmail"]) == ("Dave Dba", "dave@example.com")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"neededBy": (timezone.localdate() - timedelta(days=1)).isoformat()}, "needed_by"),
        ({"neededBy": "next tuesday"}, "neededBy"),
        ({"numberOfServers": 0}, "numberOfServers"),
        ({"cpu": "four"}, "cpu"),
        ({"dbmsType": "oracle"}, "dbmsType"),
        ({"environment": "moon"}, "environment"),
        ({"backupPolicy": "none"}, "backup_policy"),
        ({"expectedSizeGigs": 101}, "expected_size_gigs"),
        ({"newApplicationName": ""}, "application"),
        ({"contacts": [{"name": "x", "email": "nope"}]}, "contacts"),
        ({"costCentre": ""}, "costCentre"),
        ({"requesterEmail": "not-mail"}, "requester_email"),
        ({"notes": "nul\x00byte"}, "notes"),
        ({"newApplicationName": "nul\x00"}, "newApplicationName"),
    ],
)
def test_bad_input_is_a_422_and_changes_nothing(owner_api, change, field):
    before = state()
    body = assert_problem(owner_api.post("/api/intake", json=valid_payload(**change)), 422)
    assert field in {e["field"] for e in body["errors"]}, body
    assert state() == before


def test_missing_body_fields_are_422(owner_api):
    body = assert_problem(owner_api.post("/api/intake", json={"cpu": 2}), 422)
    assert {"dbmsType", "neededBy", "costCentre"} <= {e["field"] for e in body["errors"]}
    assert IntakeRequest.objects.count() == 0


def test_who_may_submit(anon_api, viewer_api, readonly_api):
    assert_problem(anon_api.post("/api/intake", json=valid_payload()), 401)
    assert_problem(viewer_api.post("/api/intake", json=valid_payload()), 403)
    assert_problem(readonly_api.post("/api/intake", json=valid_payload()), 403)
    assert_problem(anon_api.get("/api/intake"), 401)
    assert IntakeRequest.objects.count() == 0


def test_owners_see_only_their_requests(owner_user, owner_api, dba_user, dba_api, viewer_api):
    mine = services.submit_request(spec(), owner_user)
    other = services.submit_request(spec(new_application_name="Other"), dba_user)
    listing = owner_api.get("/api/intake").json()
    assert [r["reference"] for r in listing["items"]] == [mine.reference]
    assert_problem(owner_api.get(f"/api/intake/{other.reference}"), 404)
    assert dba_api.get("/api/intake").json()["count"] == 2
    assert viewer_api.get("/api/intake").json()["count"] == 2


def test_list_paging_and_filters(dba_user, dba_api):
    for i in range(3):
        services.submit_request(spec(new_application_name=f"App{i}"), dba_user)
    page = dba_api.get("/api/intake", limit=2, offset=1).json()
    assert page["count"] == 3 and len(page["items"]) == 2
    assert dba_api.get("/api/intake", status="fulfilled").json()["count"] == 0
    assert_problem(dba_api.get("/api/intake", limit=0), 422)
    assert_problem(dba_api.get("/api/intake", status="lost"), 422)
    assert_problem(dba_api.get("/api/intake", dbmsType="oracle"), 404)


def test_list_query_count_does_not_grow_with_rows(dba_user, dba_api, django_assert_max_num_queries):
    services.submit_request(spec(), dba_user)
    with django_assert_max_num_queries(6) as few:
        dba_api.get("/api/intake")
    for i in range(10):
        services.submit_request(spec(new_application_name=f"App{i}"), dba_user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert dba_api.get("/api/intake").json()["count"] == 11


def test_dba_fulfils_through_the_api(owner_user, dba_api, add_pool):
    add_pool("postgresql", ("pg-a", 4, 16, 100), ("pg-b", 4, 16, 100))
    ref = services.submit_request(spec(), owner_user).reference
    response = dba_api.post(f"/api/intake/{ref}/fulfil/", json={"clusterName": "billing-main"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "fulfilled" and body["cluster"] == "billing-main"
    assert [e["toStatus"] for e in body["events"]] == ["submitted", "approved", "fulfilled"]
    assert set(Server.objects.filter(cluster__name="billing-main").values_list("status", flat=True)) == {
        PoolStatus.USED
    }
    assert_problem(dba_api.post(f"/api/intake/{ref}/reject", json={"comment": "late"}), 409)


def test_fulfil_conflicts_and_bad_names_change_nothing(owner_user, dba_api, add_pool):
    add_pool("postgresql", ("pg-a", 4, 16, 100))
    ref = services.submit_request(spec(), owner_user).reference
    before = state()
    body = assert_problem(dba_api.post(f"/api/intake/{ref}/fulfil", json={}), 409)
    assert "cannot satisfy" in body["detail"] and body["matching"] == 1
    add_pool("postgresql", ("pg-b", 4, 16, 100))
    before = state()
    body = assert_problem(dba_api.post(f"/api/intake/{ref}/fulfil", json={"clusterName": "bad name!"}), 422)
    assert state() == before
    assert_problem(dba_api.post("/api/intake/REQ-1999-0001/fulfil", json={}), 404)
    assert_problem(dba_api.get("/api/intake/REQ%00"), 422)


def test_decisions_need_a_dba(owner_user, owner_api, viewer_api, readonly_api, dba_api):
    ref = services.submit_request(spec(), owner_user).reference
    before = state()
    for client, status in ((owner_api, 403), (viewer_api, 403), (readonly_api, 403)):
        for action in ("approve", "reject", "fulfil"):
            assert_problem(client.post(f"/api/intake/{ref}/{action}", json={"comment": "x"}), status)
    assert state() == before
    body = assert_problem(dba_api.post(f"/api/intake/{ref}/reject", json={"comment": ""}), 422)
    assert body["errors"][0]["field"] == "comment"
    assert dba_api.post(f"/api/intake/{ref}/approve", json={"comment": "fine"}).json()["status"] == "approved"
    rejected = dba_api.post(f"/api/intake/{ref}/reject", json={"comment": "budget"}).json()
    assert rejected["status"] == "rejected" and rejected["events"][-1]["comment"] == "budget"
    assert not Cluster.objects.exists()


def test_comments(owner_user, owner_api, viewer_api):
    ref = services.submit_request(spec(), owner_user).reference
    response = owner_api.post(f"/api/intake/{ref}/comments", json={"comment": "Any news?"})
    assert response.status_code == 201 and response.json()["events"][-1]["comment"] == "Any news?"
    before = RequestEvent.objects.count()
    assert_problem(owner_api.post(f"/api/intake/{ref}/comments", json={"comment": "  "}), 422)
    assert_problem(viewer_api.post(f"/api/intake/{ref}/comments", json={"comment": "hi"}), 403)
    assert RequestEvent.objects.count() == before
