from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from rocketdbaas.intake import services
from rocketdbaas.intake.models import IntakeRequest, RequestStatus
from rocketdbaas.inventory.models import Cluster, Server

from .conftest import spec
from .test_services import state

XSS = '<script>alert("x")</script>'
# Application names cannot hold "/", so the name carries a payload without one.
XSS_NAME = "<img src=x onerror=alert(1)>"


def form_data(**overrides):
    data = {
        "requester_name": "Rita Requester",
        "requester_email": "rita@example.com",
        "application": "",
        "new_application_name": "Billing",
        "contacts": "Ops Team <ops@example.com>\nlead@example.com",
        "dbms_type": "postgresql",
        "environment": "prod",
        "number_of_servers": "2",
        "cpu": "4",
        "ram": "16",
        "db_gigs": "100",
        "expected_size_gigs": "40",
        "growth_gigs_per_month": "2",
        "backup_policy": "standard",
        "cost_centre": "CC-1234",
        "needed_by": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "notes": "For the new billing service.",
    }
    data.update(overrides)
    return data


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_pages_need_a_login(db):
    response = Client().get("/requests/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_the_form_is_prefilled_with_the_requester(owner_user):
    owner_user.first_name, owner_user.last_name, owner_user.email = "Olga", "Owner", "olga@example.com"
    owner_user.save()
    page = client_for(owner_user).get("/requests/new/").content.decode()
    assert 'value="Olga Owner"' in page and 'value="olga@example.com"' in page
    assert f'min="{timezone.localdate().isoformat()}"' in page


def test_invalid_submission_shows_messages_and_keeps_the_input(owner_user):
    past = (timezone.localdate() - timedelta(days=3)).isoformat()
    response = client_for(owner_user).post(
        "/requests/new/", form_data(needed_by=past, expected_size_gigs="500", cpu="", notes="keep me")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page  # cpu
    assert 'value="Billing"' in page and "keep me" in page and 'value="CC-1234"' in page
    assert not IntakeRequest.objects.exists()

    response = client_for(owner_user).post(
        "/requests/new/", form_data(needed_by=past, expected_size_gigs="500")
    )
    page = response.content.decode()
    assert "cannot be in the past" in page and "does not fit the database disk" in page
    assert "lead@example.com" in page
    assert not IntakeRequest.objects.exists()


def test_valid_submission_redirects_to_its_page(owner_user):
    client = client_for(owner_user)
    response = client.post("/requests/new/", form_data())
    created = IntakeRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/requests/{created.reference}/"
    assert created.contacts == [
        {"name": "Ops Team", "email": "ops@example.com"},
        {"name": "", "email": "lead@example.com"},
    ]
    page = client.get(response["Location"]).content.decode()
    assert created.reference in page and "submitted. The DBA team has been told." in page
    assert "Approve and fulfil" not in page  # not offered to the requester
    assert client.get("/requests/").content.decode().count(created.reference) >= 1


def test_viewers_are_not_offered_the_form_and_refused_if_forged(viewer_user):
    client = client_for(viewer_user)
    assert "Request a database" not in client.get("/requests/").content.decode()
    assert client.get("/requests/new/").status_code == 403
    assert client.post("/requests/new/", form_data()).status_code == 403
    assert not IntakeRequest.objects.exists()


def test_forms_are_csrf_protected(owner_user, dba_user):
    ref = services.submit_request(spec(), owner_user).reference
    assert (
        client_for(owner_user, enforce_csrf_checks=True).post("/requests/new/", form_data()).status_code
        == 403
    )
    dba = client_for(dba_user, enforce_csrf_checks=True)
    assert dba.post(f"/requests/{ref}/decide/", {"action": "reject", "comment": "x"}).status_code == 403
    assert IntakeRequest.objects.get().status == RequestStatus.SUBMITTED


def test_user_input_is_rendered_inert(owner_user, dba_user):
    client = client_for(owner_user)
    client.post(
        "/requests/new/",
        form_data(new_application_name=XSS_NAME, notes=XSS, requester_name=XSS, cost_centre="<b>cc</b>"),
    )
    created = IntakeRequest.objects.get()
    services.add_comment(created.reference, user=dba_user, comment=XSS)
    for url in (f"/requests/{created.reference}/", "/requests/"):
        page = client_for(dba_user).get(url).content.decode()
        assert XSS not in page and XSS_NAME not in page and "<b>cc</b>" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_dba_approves_and_fulfils_in_one_step(owner_user, dba_user, add_pool):
    add_pool("postgresql", ("pg-a", 4, 16, 100), ("pg-b", 4, 16, 100))
    ref = services.submit_request(spec(), owner_user).reference
    client = client_for(dba_user)
    page = client.get(f"/requests/{ref}/").content.decode()
    assert "2 Free PostgreSQL servers in the pool match" in page and 'value="billing-prod-pg"' in page

    response = client.post(
        f"/requests/{ref}/decide/", {"action": "fulfil", "cluster_name": "billing-db", "comment": ""}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "cluster billing-db is built" in page
    assert 'href="/clusters/postgresql/billing-db/"' in page
    cluster_page = client.get("/clusters/postgresql/billing-db/").content.decode()
    assert f'href="/requests/{ref}/"' in cluster_page  # the intake panel on the cluster page


def test_fulfil_without_enough_servers_explains_and_keeps_the_input(owner_user, dba_user, add_pool):
    add_pool("postgresql", ("pg-a", 4, 16, 100))
    ref = services.submit_request(spec(), owner_user).reference
    before = state()
    response = client_for(dba_user).post(
        f"/requests/{ref}/decide/",
        {"action": "fulfil", "cluster_name": "kept-name", "comment": "kept comment"},
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "cannot satisfy" in page and "Nothing was changed." in page
    assert 'value="kept-name"' in page and "kept comment" in page
    assert state() == before


def test_reject_needs_a_comment(owner_user, dba_user):
    ref = services.submit_request(spec(), owner_user).reference
    client = client_for(dba_user)
    response = client.post(f"/requests/{ref}/decide/", {"action": "reject", "comment": ""})
    assert response.status_code == 422 and "A comment is required" in response.content.decode()
    response = client.post(
        f"/requests/{ref}/decide/", {"action": "reject", "comment": "No budget this year."}
    )
    assert response.status_code == 302
    assert IntakeRequest.objects.get().status == RequestStatus.REJECTED


@pytest.mark.parametrize("action", ["fulfil", "approve", "reject"])
def test_forged_decisions_are_refused(owner_user, viewer_user, add_pool, action):
    add_pool("postgresql", ("pg-a", 4, 16, 100), ("pg-b", 4, 16, 100))
    ref = services.submit_request(spec(), owner_user).reference
    before = state()
    for user in (owner_user, viewer_user):
        response = client_for(user).post(f"/requests/{ref}/decide/", {"action": action, "comment": "x"})
        assert response.status_code == 403
    assert state() == before
    assert not Cluster.objects.exists() and Server.objects.filter(status="Free").count() == 2


def test_owners_do_not_see_other_peoples_requests(owner_user, dba_user):
    other = services.submit_request(spec(new_application_name="Other"), dba_user)
    client = client_for(owner_user)
    assert client.get(f"/requests/{other.reference}/").status_code == 404
    assert other.reference not in client.get("/requests/").content.decode()
    assert client.post(f"/requests/{other.reference}/comments/", {"comment": "hi"}).status_code == 404


def test_comment_from_the_page(owner_user):
    ref = services.submit_request(spec(), owner_user).reference
    client = client_for(owner_user)
    assert client.post(f"/requests/{ref}/comments/", {"comment": ""}).status_code == 400
    response = client.post(f"/requests/{ref}/comments/", {"comment": "Can we have it sooner?"})
    assert response.status_code == 302
    assert "Can we have it sooner?" in client.get(f"/requests/{ref}/").content.decode()


def test_list_filters_sorts_and_has_constant_queries(dba_user, django_assert_num_queries):
    services.submit_request(spec(new_application_name="Alpha"), dba_user)
    client = client_for(dba_user)
    client.get("/requests/")  # warm the session
    with django_assert_num_queries(4) as first:  # session, user, count, page
        client.get("/requests/")
    for i in range(12):
        services.submit_request(spec(new_application_name=f"App{i:02d}", dbms_type="mongodb"), dba_user)
    with django_assert_num_queries(len(first.captured_queries)):
        page = client.get("/requests/?sort=application").content.decode()
    assert page.index("Alpha") < page.index("App00") < page.index("App11")
    filtered = client.get("/requests/?dbms_type=postgresql").content.decode()
    assert "Alpha" in filtered and "App00" not in filtered
    assert "App03" in client.get("/requests/?q=app03").content.decode()
