"""/api/contacts: create, list, read, update, expire, reactivate; bad input and permissions."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from rocketdbaas.contacts.models import Contact, ContactAction, ContactChange
from rocketdbaas.contacts.services import create_contact
from rocketdbaas.contacts.tests.conftest import link, make_application, make_contact
from rocketdbaas.core.errors import Conflict

pytestmark = pytest.mark.django_db


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


def snapshot():
    return (
        sorted(Contact.objects.values_list("id", "name", "email", "phone", "valid_to")),
        ContactChange.objects.count(),
    )


def test_dba_creates_a_contact_with_normalised_email_and_audit_row(dba_api, dba_user):
    response = dba_api.post(
        "/api/contacts/",
        json={
            "name": " Ana Ops ",
            "email": "Ana.Ops@Example.COM",
            "phone": "+44 20 7946 0000",
            "team": "Payments",
            "notes": "on call weekdays",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Ana Ops"
    assert body["email"] == "ana.ops@example.com"
    assert body["phone"] == "+44 20 7946 0000"
    assert body["active"] is True and body["expired"] is False
    assert body["validTo"] is None and body["validFrom"]
    assert body["applications"] == []
    change = ContactChange.objects.get(contact_id=body["id"])
    assert change.action == ContactAction.CREATED
    assert change.user == dba_user
    assert change.changes["email"] == "ana.ops@example.com"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "email": "x@"}, "email"),
        ({"name": "", "email": "x@example.com"}, "name"),
        ({"email": "x@example.com"}, "name"),
        ({"name": "X", "email": "x@example.com", "phone": "call me"}, "phone"),
        (
            {
                "name": "X",
                "email": "x@example.com",
                "validFrom": "2030-01-02T00:00:00Z",
                "validTo": "2030-01-01T00:00:00Z",
            },
            "validTo",
        ),
        ({"name": "X", "email": "x@example.com", "validTo": "2001-01-01T00:00:00Z"}, "validTo"),
        ({"name": "X", "email": "x@example.com", "validFrom": "yesterday"}, "validFrom"),
    ],
)
def test_invalid_contacts_are_422_and_nothing_is_stored(admin_api, payload, field):
    before = snapshot()
    body = assert_problem(admin_api.post("/api/contacts", json=payload), 422)
    assert field in [e["field"] for e in body["errors"]], body
    assert snapshot() == before


def test_email_is_unique_among_active_contacts_case_insensitively(dba_api):
    first = make_contact("ana@example.com")
    before = snapshot()
    body = assert_problem(
        dba_api.post("/api/contacts", json={"name": "Ana 2", "email": "ANA@example.com"}), 409
    )
    assert body["existingContactId"] == first.pk
    assert snapshot() == before

    # A contact whose end is planned still holds the address until then.
    first.valid_to = timezone.now() + timedelta(days=3)
    first.save()
    assert_problem(dba_api.post("/api/contacts", json={"name": "Ana 2", "email": "ana@example.com"}), 409)

    # Once expired, the address is free again; the old contact stays as history.
    first.valid_from = timezone.now() - timedelta(days=1)
    first.valid_to = timezone.now() - timedelta(seconds=1)
    first.save()
    response = dba_api.post("/api/contacts", json={"name": "Ana 2", "email": "ana@example.com"})
    assert response.status_code == 201
    assert Contact.objects.filter(email="ana@example.com").count() == 2


@pytest.mark.parametrize("client", ["owner_api", "viewer_api", "readonly_api"])
def test_only_dba_and_admin_create_unlinked_contacts(request, client):
    before = snapshot()
    response = request.getfixturevalue(client).post(
        "/api/contacts", json={"name": "X", "email": "x@example.com"}
    )
    assert_problem(response, 403)
    assert snapshot() == before


def test_anonymous_callers_are_401(anon_api):
    assert_problem(anon_api.get("/api/contacts"), 401)
    assert_problem(anon_api.post("/api/contacts", json={"name": "X", "email": "x@example.com"}), 401)


def test_list_hides_expired_filters_and_paginates(viewer_api, django_assert_max_num_queries):
    shop = make_application("shop")
    now = timezone.now()
    ana = make_contact("ana@example.com", name="Ana")
    make_contact("bob@example.com", name="Bob", team="DBA")
    old = make_contact(
        "old@example.com", name="Old", valid_to=now - timedelta(days=1), valid_from=now - timedelta(days=9)
    )
    link(shop, ana, role="owner")
    link(shop, old)

    def names(response):
        assert response.status_code == 200, response.content
        return [c["name"] for c in response.json()["items"]]

    assert names(viewer_api.get("/api/contacts")) == ["Ana", "Bob"]
    assert names(viewer_api.get("/api/contacts", status="expired")) == ["Old"]
    assert names(viewer_api.get("/api/contacts", status="all")) == ["Ana", "Bob", "Old"]
    assert names(viewer_api.get("/api/contacts", name="bo")) == ["Bob"]
    assert names(viewer_api.get("/api/contacts", email="ANA@")) == ["Ana"]
    assert names(viewer_api.get("/api/contacts", application="shop")) == ["Ana"]
    assert names(viewer_api.get("/api/contacts", application="shop", status="all")) == ["Ana", "Old"]

    page = viewer_api.get("/api/contacts", status="all", limit=2, offset=1).json()
    assert page["count"] == 3
    assert [c["name"] for c in page["items"]] == ["Bob", "Old"]

    listed = viewer_api.get("/api/contacts", application="shop").json()["items"][0]
    assert listed["applications"] == [{"name": "shop", "role": "owner", "patchingEmails": True}]

    assert_problem(viewer_api.get("/api/contacts", application="nope"), 404)
    assert_problem(viewer_api.get("/api/contacts", status="gone"), 422)

    # The links and applications of each contact come from a fixed number of queries.
    for i in range(10):
        link(shop, make_contact(f"extra{i}@example.com"))
    with django_assert_max_num_queries(6):
        assert viewer_api.get("/api/contacts", limit=100).json()["count"] == 12


def test_owner_sees_only_contacts_of_their_applications(owner_api, owner_user):
    mine = make_application("mine", owners=[owner_user])
    theirs = make_application("theirs")
    a = make_contact("a@example.com")
    b = make_contact("b@example.com")
    make_contact("unlinked@example.com")
    link(mine, a)
    link(theirs, b)
    assert [c["email"] for c in owner_api.get("/api/contacts").json()["items"]] == ["a@example.com"]
    assert owner_api.get(f"/api/contacts/{a.pk}").status_code == 200
    # Another application's contact is as unknown as a missing one: no existence leak.
    assert_problem(owner_api.get(f"/api/contacts/{b.pk}"), 404)
    assert_problem(owner_api.get("/api/contacts", application="theirs"), 404)


def test_read_one_contact(viewer_api):
    ana = make_contact("ana@example.com", name="Ana")
    body = viewer_api.get(f"/api/contacts/{ana.pk}/").json()
    assert body["id"] == ana.pk and body["email"] == "ana@example.com"
    assert_problem(viewer_api.get("/api/contacts/999999"), 404)
    assert_problem(viewer_api.get("/api/contacts/abc"), 422)


def test_patch_updates_fields_and_records_the_difference(dba_api):
    ana = make_contact("ana@example.com", name="Ana")
    response = dba_api.patch(
        f"/api/contacts/{ana.pk}", json={"name": "Ana Smith", "email": "ANA.S@example.com"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "ana.s@example.com"
    change = ContactChange.objects.get(contact=ana, action=ContactAction.UPDATED)
    assert change.changes == {"name": ["Ana", "Ana Smith"], "email": ["ana@example.com", "ana.s@example.com"]}


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"email": "broken"}, 422),
        ({"email": "bob@example.com"}, 409),
        ({"name": None}, 422),
        ({"name": ""}, 422),
        ({"validTo": "2001-01-01T00:00:00Z"}, 422),
        ({"phone": "x" * 60}, 422),
    ],
)
def test_bad_patches_change_nothing(dba_api, payload, status):
    ana = make_contact("ana@example.com")
    make_contact("bob@example.com")
    before = snapshot()
    assert_problem(dba_api.patch(f"/api/contacts/{ana.pk}", json=payload), status)
    assert snapshot() == before


def test_patch_unknown_or_expired_contact(dba_api):
    now = timezone.now()
    old = make_contact(
        "old@example.com", valid_from=now - timedelta(days=5), valid_to=now - timedelta(days=1)
    )
    assert_problem(dba_api.patch("/api/contacts/424242", json={"name": "x"}), 404)
    assert_problem(dba_api.patch(f"/api/contacts/{old.pk}", json={"name": "x"}), 409)


def test_expire_now_hides_the_contact_and_keeps_it(dba_api):
    ana = make_contact("ana@example.com")
    response = dba_api.post(f"/api/contacts/{ana.pk}/expire", json={})
    assert response.status_code == 200, response.content
    assert response.json()["expired"] is True
    assert [c["id"] for c in dba_api.get("/api/contacts").json()["items"]] == []
    assert Contact.objects.get(pk=ana.pk).is_expired()
    assert ContactChange.objects.filter(contact=ana, action=ContactAction.EXPIRED).count() == 1
    assert_problem(dba_api.post(f"/api/contacts/{ana.pk}/expire", json={}), 409)


def test_expire_at_a_future_date(dba_api):
    ana = make_contact("ana@example.com")
    at = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    body = dba_api.post(f"/api/contacts/{ana.pk}/expire", json={"at": at.isoformat()}).json()
    assert body["expired"] is False and body["active"] is True
    assert Contact.objects.get(pk=ana.pk).valid_to == at


def test_expire_in_the_past_or_unknown_is_refused(dba_api):
    ana = make_contact("ana@example.com")
    before = snapshot()
    body = assert_problem(
        dba_api.post(f"/api/contacts/{ana.pk}/expire", json={"at": "2000-01-01T00:00:00Z"}), 422
    )
    assert body["errors"][0]["field"] == "at"
    assert_problem(dba_api.post("/api/contacts/99999/expire", json={}), 404)
    assert snapshot() == before


def test_expiring_a_contact_that_has_not_started_cancels_it(dba_api):
    later = make_contact("later@example.com", valid_from=timezone.now() + timedelta(days=10))
    body = dba_api.post(f"/api/contacts/{later.pk}/expire", json={}).json()
    assert body["expired"] is True
    later.refresh_from_db()
    assert later.valid_from == later.valid_to


def test_reactivate(dba_api):
    now = timezone.now()
    old = make_contact(
        "ana@example.com", valid_from=now - timedelta(days=5), valid_to=now - timedelta(days=1)
    )
    body = dba_api.post(f"/api/contacts/{old.pk}/reactivate").json()
    assert body["active"] is True and body["validTo"] is None
    assert_problem(dba_api.post(f"/api/contacts/{old.pk}/reactivate"), 409)
    assert_problem(dba_api.post("/api/contacts/99999/reactivate"), 404)


def test_reactivate_refuses_when_the_email_was_taken_meanwhile(dba_api):
    now = timezone.now()
    old = make_contact(
        "ana@example.com", valid_from=now - timedelta(days=5), valid_to=now - timedelta(days=1)
    )
    new = make_contact("ana@example.com")
    before = snapshot()
    body = assert_problem(dba_api.post(f"/api/contacts/{old.pk}/reactivate"), 409)
    assert body["existingContactId"] == new.pk
    assert snapshot() == before


def test_owner_changes_contacts_of_their_applications_only(owner_api, owner_user):
    mine = make_application("mine", owners=[owner_user])
    theirs = make_application("theirs")
    own = make_contact("own@example.com")
    shared = make_contact("shared@example.com")
    other = make_contact("other@example.com")
    link(mine, own)
    link(mine, shared)
    link(theirs, shared)
    link(theirs, other)
    before = snapshot()
    # A shared contact is visible but not the owner's to change; another team's is not visible.
    for contact, status in ((shared, 403), (other, 404)):
        assert_problem(owner_api.patch(f"/api/contacts/{contact.pk}", json={"name": "Hijacked"}), status)
        assert_problem(owner_api.post(f"/api/contacts/{contact.pk}/expire", json={}), status)
    assert snapshot() == before

    assert (
        owner_api.patch(f"/api/contacts/{own.pk}", json={"team": "Shop team"}).json()["team"] == "Shop team"
    )
    assert owner_api.post(f"/api/contacts/{own.pk}/expire", json={}).json()["expired"] is True
    assert owner_api.post(f"/api/contacts/{own.pk}/reactivate").json()["active"] is True


@pytest.mark.parametrize("client", ["viewer_api", "readonly_api"])
def test_read_only_callers_change_nothing(request, client):
    ana = make_contact("ana@example.com")
    api = request.getfixturevalue(client)
    before = snapshot()
    assert_problem(api.patch(f"/api/contacts/{ana.pk}", json={"name": "x"}), 403)
    assert_problem(api.post(f"/api/contacts/{ana.pk}/expire", json={}), 403)
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_email_leave_one_active_contact(dba_user):
    """Contacts with an end date are outside the database's unique index; the service serialises them."""
    until = timezone.now() + timedelta(days=30)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def create(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            create_contact(dba_user, {"name": f"Twin {i}", "email": "twin@example.com", "valid_to": until})
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["conflict"] * 5 + ["created"]
    assert Contact.objects.filter(email="twin@example.com").count() == 1
