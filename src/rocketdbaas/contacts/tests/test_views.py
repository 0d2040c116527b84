"""The pages: applications with their contacts and email log, sign-up, edit, expire; who may do what."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from rocketdbaas.contacts.demo import load_demo
from rocketdbaas.contacts.models import (
    ApplicationContact,
    Contact,
    ContactAction,
    ContactChange,
    NotificationEvent,
    NotificationLog,
)
from rocketdbaas.contacts.notifications import notify_patch_event
from rocketdbaas.contacts.sections import section
from rocketdbaas.contacts.tests.conftest import link, make_application, make_contact, patch_event

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def state():
    return (
        sorted(Contact.objects.values_list("id", "name", "email", "valid_to")),
        sorted(
            ApplicationContact.objects.values_list("application_id", "contact_id", "role", "patching_emails")
        ),
    )


@pytest.fixture
def shop_contacts(fleet):
    ana = make_contact("ana@shop.example", name="Ana Shop", phone="+1 555 0100")
    lead = make_contact("lead@example.com", name="DBA Lead")
    link(fleet["shop"], ana, role="owner")
    link(fleet["shop"], lead, role="technical")
    link(fleet["billing"], lead, role="technical")
    notify_patch_event(
        patch_event(NotificationEvent.PATCH_STARTED, [fleet["shop_db"], fleet["billing_db"]], run_id=3)
    )
    return {"ana": ana, "lead": lead}


def test_application_list_shows_counts_and_owners_see_only_theirs(fleet, shop_contacts, dba_user, owner_user):
    page = browser(dba_user).get("/applications/")
    assert page.status_code == 200
    rows = page.content.decode()
    assert "shop" in rows and "billing" in rows
    shop = {a.name: a for a in page.context["page_obj"]}["shop"]
    assert (shop.contact_count, shop.recipient_count, shop.pending_count, shop.failed_count) == (2, 2, 2, 0)

    own = browser(owner_user).get("/applications/")
    assert [a.name for a in own.context["page_obj"]] == ["shop"]


def test_application_list_takes_a_fixed_number_of_queries(dba_user, django_assert_max_num_queries):
    for i in range(30):
        app = make_application(f"app-{i:02d}")
        link(app, make_contact(f"c{i}@example.com"))
    client = browser(dba_user)
    with django_assert_max_num_queries(8):
        assert client.get("/applications/").status_code == 200


def test_application_page_for_viewers_reads_without_forms(fleet, shop_contacts, viewer_user):
    page = browser(viewer_user).get("/applications/shop/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ana Shop" in html and "ana@shop.example" in html and "+1 555 0100" in html
    assert "Emails sent about shop" in html and "Patching started: shop" in html
    assert "Sign up a new contact" not in html and "Detach" not in html


def test_application_page_for_its_owner_has_the_forms(fleet, shop_contacts, owner_user):
    html = browser(owner_user).get("/applications/shop/").content.decode()
    assert "Sign up a new contact" in html and "Attach an existing contact" in html
    # lead also serves billing, which is not olga's, so she may detach but not edit or expire lead.
    assert f"/contacts/{shop_contacts['ana'].pk}/expire/" in html
    assert f"/contacts/{shop_contacts['lead'].pk}/expire/" not in html
    assert f"/applications/shop/contacts/{shop_contacts['lead'].pk}/detach/" in html


def test_other_owners_and_unknown_applications(fleet, owner_user):
    client = browser(owner_user)
    # Another team's application answers exactly like one that does not exist.
    assert client.get("/applications/billing/").status_code == 404
    assert client.get("/applications/nope/").status_code == 404
    before = state()
    response = client.post(
        "/applications/billing/sign-up/",
        {"new-name": "X", "new-email": "x@example.com", "new-role": "notify"},
    )
    assert response.status_code == 404
    assert state() == before


def test_anonymous_visitors_are_sent_to_log_in(fleet):
    response = Client().get("/applications/shop/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_owner_signs_up_a_contact_on_the_application_page(fleet, owner_user):
    response = browser(owner_user).post(
        "/applications/shop/sign-up/",
        {
            "new-name": "Shop On-call",
            "new-email": "Oncall@Shop.example",
            "new-role": "technical",
            "new-patching_emails": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/applications/shop/"
    contact = Contact.objects.get(email="oncall@shop.example")
    link_row = ApplicationContact.objects.get(contact=contact)
    assert (link_row.application, link_row.role, link_row.patching_emails) == (
        fleet["shop"],
        "technical",
        True,
    )
    assert ContactChange.objects.filter(contact=contact, user=owner_user).count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"new-name": "X", "new-email": "not-an-email", "new-role": "notify"},
            "Enter a valid email address.",
        ),
        ({"new-name": "X", "new-email": "ana@shop.example", "new-role": "notify"}, "already has the email"),
        (
            {"new-name": "X", "new-email": "x@example.com", "new-role": "notify", "new-phone": "call me"},
            "phone number",
        ),
        (
            {
                "new-name": "X",
                "new-email": "x@example.com",
                "new-role": "notify",
                "new-valid_to": "2001-01-01",
            },
            "in the future",
        ),
    ],
)
def test_bad_sign_ups_show_errors_and_change_nothing(fleet, shop_contacts, owner_user, data, message):
    before = state()
    response = browser(owner_user).post("/applications/shop/sign-up/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert state() == before


def test_attach_an_existing_contact_by_email(fleet, shop_contacts, dba_user):
    client = browser(dba_user)
    response = client.post(
        "/applications/billing/attach/", {"attach-email": "ana@shop.example", "attach-role": "notify"}
    )
    assert response.status_code == 302
    assert (
        ApplicationContact.objects.get(
            application=fleet["billing"], contact=shop_contacts["ana"]
        ).patching_emails
        is False
    )

    before = state()
    missing = client.post(
        "/applications/billing/attach/", {"attach-email": "who@example.com", "attach-role": "notify"}
    )
    assert missing.status_code == 400 and "No active contact has this email" in missing.content.decode()
    again = client.post(
        "/applications/billing/attach/", {"attach-email": "ana@shop.example", "attach-role": "notify"}
    )
    assert again.status_code == 400 and "already linked" in again.content.decode()
    assert state() == before


def test_change_role_and_detach(fleet, shop_contacts, owner_user):
    client = browser(owner_user)
    ana = shop_contacts["ana"]
    assert client.get(f"/applications/shop/contacts/{ana.pk}/").status_code == 200
    response = client.post(f"/applications/shop/contacts/{ana.pk}/", {"role": "notify"})
    assert response.status_code == 302
    link_row = ApplicationContact.objects.get(application=fleet["shop"], contact=ana)
    assert (link_row.role, link_row.patching_emails) == ("notify", False)

    assert (
        client.post(f"/applications/billing/contacts/{shop_contacts['lead'].pk}/detach/").status_code == 404
    )
    assert client.post(f"/applications/shop/contacts/{ana.pk}/detach/").status_code == 302
    assert not ApplicationContact.objects.filter(contact=ana).exists()
    assert client.post(f"/applications/shop/contacts/{ana.pk}/detach/").status_code == 404


def test_edit_expire_and_reactivate_a_contact(fleet, shop_contacts, owner_user):
    client = browser(owner_user)
    ana = shop_contacts["ana"]
    page = client.get(f"/contacts/{ana.pk}/")
    assert page.status_code == 200 and 'value="ana@shop.example"' in page.content.decode()
    response = client.post(
        f"/contacts/{ana.pk}/",
        {"name": "Ana S.", "email": "ana@shop.example", "team": "Shop", "next": "/applications/shop/"},
    )
    assert response.status_code == 302 and response["Location"] == "/applications/shop/"
    ana.refresh_from_db()
    assert (ana.name, ana.team, ana.valid_to) == ("Ana S.", "Shop", None)

    later = timezone.now().date() + timedelta(days=14)
    client.post(f"/contacts/{ana.pk}/expire/", {"at": later.isoformat()})
    ana.refresh_from_db()
    assert ana.valid_to.date() == later and ana.is_active()

    client.post(f"/contacts/{ana.pk}/reactivate/")
    ana.refresh_from_db()
    assert ana.valid_to is None

    client.post(f"/contacts/{ana.pk}/expire/", {"at": ""})
    ana.refresh_from_db()
    assert ana.is_expired()
    assert [c.action for c in ContactChange.objects.filter(contact=ana).order_by("id")] == [
        ContactAction.UPDATED,
        ContactAction.EXPIRED,
        ContactAction.REACTIVATED,
        ContactAction.EXPIRED,
    ]
    # An expired contact is history: the page offers to reactivate it, not to edit it.
    assert "Reactivate" in client.get(f"/contacts/{ana.pk}/").content.decode()


def test_expire_in_the_past_is_refused(fleet, shop_contacts, dba_user):
    ana = shop_contacts["ana"]
    response = browser(dba_user).post(f"/contacts/{ana.pk}/expire/", {"at": "2001-01-01"}, follow=True)
    assert "today or a later date" in response.content.decode()
    ana.refresh_from_db()
    assert ana.valid_to is None


def test_owners_cannot_edit_contacts_shared_with_other_applications(fleet, shop_contacts, owner_user):
    lead = shop_contacts["lead"]
    client = browser(owner_user)
    before = state()
    assert client.get(f"/contacts/{lead.pk}/").status_code == 403
    assert (
        client.post(f"/contacts/{lead.pk}/", {"name": "Hijacked", "email": "lead@example.com"}).status_code
        == 403
    )
    assert client.post(f"/contacts/{lead.pk}/expire/").status_code == 403
    assert state() == before


def test_contact_directory_filters(fleet, shop_contacts, viewer_user, owner_user):
    now = timezone.now()
    make_contact(
        "old@example.com",
        name="Old Timer",
        valid_from=now - timedelta(days=9),
        valid_to=now - timedelta(days=1),
    )
    client = browser(viewer_user)
    names = lambda **q: [c.name for c in client.get("/contacts/", q).context["page_obj"]]  # noqa: E731
    assert names() == ["Ana Shop", "DBA Lead"]
    assert names(status="expired") == ["Old Timer"]
    assert names(q="lead") == ["DBA Lead"]
    assert names(application="billing") == ["DBA Lead"]
    assert client.get("/contacts/", {"application": "nope"}).status_code == 404
    assert browser(owner_user).get("/contacts/", {"application": "billing"}).status_code == 404


def test_sign_up_page_offers_only_applications_the_user_manages(fleet, owner_user, viewer_user):
    client = browser(owner_user)
    page = client.get("/contacts/sign-up/")
    assert [value for value, _ in page.context["form"].fields["application"].choices] == ["shop"]
    before = state()
    refused = client.post(
        "/contacts/sign-up/",
        {"application": "billing", "name": "X", "email": "x@example.com", "role": "notify"},
    )
    assert refused.status_code == 400 and state() == before
    done = client.post(
        "/contacts/sign-up/", {"application": "shop", "name": "X", "email": "x@example.com", "role": "notify"}
    )
    assert done.status_code == 302
    assert ApplicationContact.objects.filter(
        application=fleet["shop"], contact__email="x@example.com"
    ).exists()
    assert browser(viewer_user).get("/contacts/sign-up/").status_code == 403


def test_email_log_pages(fleet, shop_contacts, owner_user, dba_user):
    dba = browser(dba_user)
    page = dba.get("/notifications/")
    assert page.status_code == 200 and page.context["page_obj"].paginator.count == 3
    assert dba.get("/notifications/", {"application": "billing"}).context["page_obj"].paginator.count == 1
    mine = NotificationLog.objects.get(application__name="shop", recipient_email="ana@shop.example")
    theirs = NotificationLog.objects.get(application__name="billing")
    detail = browser(owner_user).get(f"/notifications/{mine.pk}/")
    assert detail.status_code == 200 and "Cluster shop-db" in detail.content.decode()
    assert browser(owner_user).get(f"/notifications/{theirs.pk}/").status_code == 404
    assert browser(owner_user).get("/notifications/").context["page_obj"].paginator.count == 2


def test_forms_need_the_csrf_token(fleet, owner_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner_user)
    before = state()
    response = client.post(
        "/applications/shop/sign-up/", {"new-name": "X", "new-email": "x@example.com", "new-role": "notify"}
    )
    assert response.status_code == 403
    assert state() == before


def test_cluster_panel_lists_the_applications_current_contacts(fleet, shop_contacts, owner_user):
    shop_db = fleet["shop_db"]
    html = render_to_string(section.template, {"data": section.provider(shop_db), "cluster": shop_db})
    assert "Ana Shop" in html and "lead@example.com" in html and "/applications/shop/" in html
    # Sections are shown only on the page of a cluster the user may see.
    client = Client()
    client.force_login(owner_user)
    billing_db = fleet["billing_db"]
    assert client.get(f"/clusters/{billing_db.dbms_type}/{billing_db.name}/").status_code == 404


def test_demo_contacts_load_once(db):
    for name in ("payments", "orders", "customer-portal", "analytics"):
        make_application(name)
    out = []
    writer = type("W", (), {"write": lambda self, s: out.append(s)})()
    load_demo(writer)
    load_demo(writer)
    assert out == [
        "Contacts: 6 created, 7 linked to applications.",
        "Contacts: 0 created, 0 linked to applications.",
    ]
    assert ApplicationContact.objects.filter(contact__email="dba-team@example.com").count() == 2
