"""/api/applications/{name}/contacts: attach, sign up, change, detach; owners only for their own."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rocketdbaas.contacts.models import ApplicationContact, Contact, ContactAction, ContactChange
from rocketdbaas.contacts.schemas import ContactsSection
from rocketdbaas.contacts.services import cluster_contacts
from rocketdbaas.contacts.tests.conftest import link, make_contact
from rocketdbaas.contacts.tests.test_contacts_api import assert_problem

pytestmark = pytest.mark.django_db


def state():
    return (
        sorted(Contact.objects.values_list("id", "email", "valid_to")),
        sorted(
            ApplicationContact.objects.values_list("application_id", "contact_id", "role", "patching_emails")
        ),
        ContactChange.objects.count(),
    )


def test_attach_an_existing_contact(dba_api, fleet):
    ana = make_contact("ana@example.com", name="Ana")
    response = dba_api.post(
        "/api/applications/shop/contacts",
        json={"contactId": ana.pk, "role": "technical", "patchingEmails": False},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["application"] == "shop"
    assert body["role"] == "technical" and body["patchingEmails"] is False
    assert body["contact"]["email"] == "ana@example.com"
    assert body["contact"]["applications"] == [{"name": "shop", "role": "technical", "patchingEmails": False}]
    assert ContactChange.objects.filter(
        contact=ana, action=ContactAction.LINKED, application=fleet["shop"]
    ).exists()

    listed = dba_api.get("/api/applications/shop/contacts").json()
    assert listed["count"] == 1 and listed["items"][0]["contact"]["id"] == ana.pk


def test_sign_up_creates_and_attaches_in_one_step(owner_api, fleet):
    response = owner_api.post(
        "/api/applications/shop/contacts",
        json={"contact": {"name": "Shop On-call", "email": "oncall@shop.example"}, "role": "owner"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "owner" and body["patchingEmails"] is True
    contact = Contact.objects.get(email="oncall@shop.example")
    assert ApplicationContact.objects.filter(application=fleet["shop"], contact=contact).exists()
    assert [c.action for c in ContactChange.objects.filter(contact=contact).order_by("id")] == [
        ContactAction.CREATED,
        ContactAction.LINKED,
    ]


@pytest.mark.parametrize(
    ("path", "payload", "status"),
    [
        ("/api/applications/nope/contacts", {"contactId": "ANA"}, 404),
        ("/api/applications/shop/contacts", {"contactId": 999999}, 404),
        ("/api/applications/shop/contacts", {"contactId": "OLD"}, 409),
        ("/api/applications/shop/contacts", {"contactId": "LINKED"}, 409),
        ("/api/applications/shop/contacts", {"contactId": "ANA", "role": "boss"}, 422),
        ("/api/applications/shop/contacts", {}, 422),
        (
            "/api/applications/shop/contacts",
            {"contactId": "ANA", "contact": {"name": "X", "email": "x@example.com"}},
            422,
        ),
        ("/api/applications/shop/contacts", {"contact": {"name": "X", "email": "nope"}}, 422),
        ("/api/applications/shop/contacts", {"contact": {"name": "X", "email": "ana@example.com"}}, 409),
        ("/api/applications/shop/contacts", {"contactId": "ANA", "patchingEmails": "sometimes"}, 422),
    ],
)
def test_bad_links_are_4xx_and_change_nothing(dba_api, fleet, path, payload, status):
    now = timezone.now()
    ids = {
        "ANA": make_contact("ana@example.com").pk,
        "OLD": make_contact(
            "old@example.com", valid_from=now - timedelta(days=3), valid_to=now - timedelta(days=1)
        ).pk,
        "LINKED": link(fleet["shop"], make_contact("linked@example.com")).contact_id,
    }
    if payload.get("contactId") in ids:
        payload = {**payload, "contactId": ids[payload["contactId"]]}
    before = state()
    assert_problem(dba_api.post(path, json=payload), status)
    assert state() == before


def test_owner_cannot_touch_another_applications_contacts(owner_api, fleet):
    ana = make_contact("ana@example.com")
    billing_contact = make_contact("bill@example.com")
    link(fleet["billing"], billing_contact)
    before = state()
    assert_problem(owner_api.post("/api/applications/billing/contacts", json={"contactId": ana.pk}), 404)
    assert_problem(
        owner_api.post(
            "/api/applications/billing/contacts", json={"contact": {"name": "X", "email": "x@example.com"}}
        ),
        404,
    )
    assert_problem(
        owner_api.patch(f"/api/applications/billing/contacts/{billing_contact.pk}", json={"role": "owner"}),
        404,
    )
    assert_problem(owner_api.delete(f"/api/applications/billing/contacts/{billing_contact.pk}"), 404)
    assert_problem(owner_api.get("/api/applications/billing/contacts"), 404)
    assert state() == before
    # Their own application is fine, including attaching an existing contact.
    assert owner_api.post("/api/applications/shop/contacts", json={"contactId": ana.pk}).status_code == 201


def test_viewers_read_but_do_not_link(viewer_api, fleet):
    ana = make_contact("ana@example.com")
    link(fleet["billing"], ana)
    assert viewer_api.get("/api/applications/billing/contacts").json()["count"] == 1
    before = state()
    assert_problem(viewer_api.post("/api/applications/shop/contacts", json={"contactId": ana.pk}), 403)
    assert_problem(viewer_api.delete(f"/api/applications/billing/contacts/{ana.pk}"), 403)
    assert state() == before


def test_change_a_link(admin_api, fleet):
    ana = make_contact("ana@example.com")
    link(fleet["shop"], ana)
    body = admin_api.patch(
        f"/api/applications/shop/contacts/{ana.pk}", json={"role": "technical", "patchingEmails": False}
    ).json()
    assert body["role"] == "technical" and body["patchingEmails"] is False
    change = ContactChange.objects.get(action=ContactAction.LINK_UPDATED)
    assert change.changes == {"role": ["notify", "technical"], "patching_emails": [True, False]}

    before = state()
    assert_problem(admin_api.patch(f"/api/applications/shop/contacts/{ana.pk}", json={"role": "boss"}), 422)
    assert_problem(admin_api.patch("/api/applications/shop/contacts/99999", json={"role": "owner"}), 404)
    assert_problem(
        admin_api.patch(f"/api/applications/billing/contacts/{ana.pk}", json={"role": "owner"}), 404
    )
    assert_problem(admin_api.patch(f"/api/applications/nope/contacts/{ana.pk}", json={"role": "owner"}), 404)
    assert state() == before


def test_detach_keeps_the_contact(owner_api, fleet):
    ana = make_contact("ana@example.com")
    link(fleet["shop"], ana)
    response = owner_api.delete(f"/api/applications/shop/contacts/{ana.pk}/")
    assert response.status_code == 204
    assert not ApplicationContact.objects.filter(contact=ana).exists()
    assert Contact.objects.filter(pk=ana.pk).exists()
    assert ContactChange.objects.filter(contact=ana, action=ContactAction.UNLINKED).exists()
    assert_problem(owner_api.delete(f"/api/applications/shop/contacts/{ana.pk}"), 404)


def test_application_list_hides_expired_contacts_unless_asked(viewer_api, fleet):
    now = timezone.now()
    link(fleet["shop"], make_contact("ana@example.com", name="Ana"))
    link(
        fleet["shop"],
        make_contact("old@example.com", name="Old", valid_from=now - timedelta(days=3), valid_to=now),
    )

    def names(**q):
        return [
            i["contact"]["name"]
            for i in viewer_api.get("/api/applications/shop/contacts", **q).json()["items"]
        ]

    assert names() == ["Ana"]
    assert names(status="expired") == ["Old"]
    assert names(status="all") == ["Ana", "Old"]
    assert_problem(viewer_api.get("/api/applications/nope/contacts"), 404)


def test_cluster_detail_section_lists_current_contacts_in_one_query(fleet, django_assert_num_queries):
    now = timezone.now()
    link(fleet["shop"], make_contact("ana@example.com", name="Ana", phone="+1 555 0100"), role="owner")
    link(fleet["shop"], make_contact("bob@example.com", name="Bob"), patching_emails=False)
    link(
        fleet["shop"],
        make_contact("old@example.com", name="Old", valid_from=now - timedelta(days=3), valid_to=now),
    )
    link(fleet["billing"], make_contact("bill@example.com", name="Bill"))
    with django_assert_num_queries(1):
        data = cluster_contacts(fleet["shop_db"])
    section = ContactsSection.model_validate(data).model_dump(by_alias=True, mode="json")
    assert section == {
        "contacts": [
            {
                "id": Contact.objects.get(email="ana@example.com").pk,
                "name": "Ana",
                "email": "ana@example.com",
                "phone": "+1 555 0100",
                "team": "",
                "role": "owner",
                "patchingEmails": True,
            },
            {
                "id": Contact.objects.get(email="bob@example.com").pk,
                "name": "Bob",
                "email": "bob@example.com",
                "phone": "",
                "team": "",
                "role": "notify",
                "patchingEmails": False,
            },
        ]
    }
