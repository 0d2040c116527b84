from datetime import timedelta

import pytest
from django.utils import timezone

from rocketdbaas.activities.models import Activity
from rocketdbaas.core.errors import Conflict, Forbidden, Invalid
from rocketdbaas.intake import services
from rocketdbaas.intake.models import IntakeRequest, RequestEvent, RequestStatus
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server

from .conftest import spec


def state():
    """What a failed workflow step must leave untouched."""
    return (
        list(
            IntakeRequest.objects.order_by("pk").values_list(
                "reference", "status", "cluster_id", "application_id"
            )
        ),
        RequestEvent.objects.count(),
        list(Server.objects.order_by("name").values_list("name", "status", "cluster_id", "reservation_id")),
        list(Cluster.objects.values_list("name", flat=True)),
        list(Application.objects.order_by("name").values_list("name", flat=True)),
        Activity.objects.count(),
    )


def errors_of(exc_info) -> dict[str, str]:
    return {e["field"]: e["message"] for e in exc_info.value.errors}


def test_references_are_sequential_per_year(owner_user):
    first = services.submit_request(spec(), owner_user)
    second = services.submit_request(spec(new_application_name="Ledger"), owner_user)
    year = timezone.now().year
    assert first.reference == f"REQ-{year}-0001"
    assert second.reference == f"REQ-{year}-0002"
    assert first.status == RequestStatus.SUBMITTED
    assert list(first.events.values_list("to_status", "user__username")) == [
        ("submitted", owner_user.username)
    ]
    assert first.contacts == [{"name": "Ops Team", "email": "ops@example.com"}]


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"needed_by": timezone.localdate() - timedelta(days=1)}, "needed_by", "in the past"),
        ({"expected_size_gigs": 500}, "expected_size_gigs", "does not fit"),
        ({"backup_policy": "none"}, "backup_policy", "must be backed up"),
        ({"new_application_name": ""}, "application", "Choose an existing application or name a new one"),
        ({"application": "Payments"}, "application", "not both"),
        ({"contacts": [services.ContactSpec("X", "not-an-email")]}, "contacts", "Contact 1"),
        ({"number_of_servers": 10}, "number_of_servers", "between 1 and 9"),
        ({"cost_centre": "  "}, "cost_centre", "cost centre"),
        ({"requester_email": "rita"}, "requester_email", "valid e-mail"),
        ({"dbms_type": "oracle"}, "dbms_type", "postgresql"),
    ],
)
def test_invalid_requests_are_refused_with_a_message_per_field(
    owner_user, application, overrides, field, words
):
    before = state()
    with pytest.raises(Invalid) as exc_info:
        services.submit_request(spec(**overrides), owner_user)
    assert words in errors_of(exc_info)[field]
    assert state() == before


def test_a_new_application_must_not_already_exist(owner_user, application):
    with pytest.raises(Invalid) as exc_info:
        services.submit_request(spec(new_application_name="payments"), owner_user)
    assert "already exists" in errors_of(exc_info)["new_application_name"]


def test_owners_request_only_for_their_own_applications(owner_user, application):
    with pytest.raises(Invalid) as exc_info:
        services.submit_request(spec(new_application_name="", application="Payments"), owner_user)
    assert "no application named 'Payments'" in errors_of(exc_info)["application"]
    application.owners.add(owner_user)
    created = services.submit_request(spec(new_application_name="", application="Payments"), owner_user)
    assert created.application == application


def test_viewers_cannot_submit(viewer_user):
    with pytest.raises(Forbidden):
        services.submit_request(spec(), viewer_user)
    assert IntakeRequest.objects.count() == 0


def test_fulfil_pulls_best_fit_servers_and_builds_the_cluster(owner_user, dba_user, add_pool):
    add_pool(
        "postgresql",
        ("pg-big", 32, 256, 2000),
        ("pg-a", 4, 16, 100),
        ("pg-b", 8, 32, 200),
        ("pg-small", 2, 8, 50),
    )
    request = services.submit_request(spec(), owner_user)

    done = services.fulfil_request(request.reference, user=dba_user, comment="Built on time.")

    assert done.status == RequestStatus.FULFILLED
    cluster = done.cluster
    assert cluster is not None and cluster.name == "billing-prod-pg"
    assert cluster.application.name == "Billing" and cluster.application.cost_centre == "CC-1234"
    assert cluster.environment == "prod" and cluster.topology == "primary-replica"
    members = dict(cluster.servers.values_list("name", "role"))
    assert members == {"pg-a": "primary", "pg-b": "replica"}  # the two smallest that fit
    assert set(cluster.servers.values_list("status", flat=True)) == {PoolStatus.USED}
    assert Server.objects.get(name="pg-big").status == PoolStatus.FREE
    history = list(done.events.values_list("from_status", "to_status"))
    assert history == [("", "submitted"), ("submitted", "approved"), ("approved", "fulfilled")]
    last = done.events.last()
    assert "pg-a, pg-b" in last.comment and "New application Billing created." in last.comment
    assert "Built on time." in last.comment
    assert done.is_new_application and done.application == cluster.application
    assert "Contacts linked to Billing: ops@example.com." in last.comment
    assert list(cluster.application.contact_links.values_list("contact__name", "contact__email")) == [
        ("Ops Team", "ops@example.com")
    ]


def test_fulfil_reuses_active_contacts_and_skips_linked_ones(owner_user, dba_user, add_pool, application):
    from rocketdbaas.contacts import services as contacts

    add_pool("postgresql", ("pg-a", 4, 16, 100))
    contacts.sign_up_contact(dba_user, "Payments", {"name": "Known", "email": "known@example.com"})
    elsewhere = contacts.create_contact(dba_user, {"name": "Elsewhere", "email": "else@example.com"})
    application.owners.add(owner_user)
    request = services.submit_request(
        spec(
            new_application_name="",
            application="Payments",
            number_of_servers=1,
            contacts=[
                services.ContactSpec("", "KNOWN@example.com"),
                services.ContactSpec("", "else@example.com"),
                services.ContactSpec("", "new.person@example.com"),
            ],
        ),
        owner_user,
    )
    done = services.fulfil_request(request.reference, user=dba_user)
    links = dict(application.contact_links.values_list("contact__email", "contact_id"))
    assert set(links) == {"known@example.com", "else@example.com", "new.person@example.com"}
    assert links["else@example.com"] == elsewhere.pk
    assert application.contact_links.get(contact__email="new.person@example.com").contact.name == "new.person"
    assert (
        "Contacts linked to Payments: else@example.com, new.person@example.com." in done.events.last().comment
    )


def test_fulfil_when_the_pool_cannot_satisfy_changes_nothing(owner_user, dba_user, add_pool):
    add_pool("postgresql", ("pg-a", 4, 16, 100), ("pg-tiny", 1, 2, 10))
    request = services.submit_request(spec(), owner_user)
    before = state()

    with pytest.raises(Conflict) as exc_info:
        services.fulfil_request(request.reference, user=dba_user)

    detail = exc_info.value.detail
    assert f"cannot satisfy {request.reference}" in detail and "1 match" in detail
    assert "stays submitted" in detail
    assert state() == before


def test_fulfil_with_a_taken_cluster_name_changes_nothing(owner_user, dba_user, add_pool, application):
    add_pool("postgresql", ("pg-a", 4, 16, 100), ("pg-b", 4, 16, 100), ("pg-c", 4, 16, 100))
    Cluster.objects.create(name="taken", dbms_type="postgresql", application=application)
    request = services.submit_request(spec(), owner_user)
    before = state()
    with pytest.raises(Conflict, match="already exists"):
        services.fulfil_request(request.reference, user=dba_user, cluster_name="taken")
    assert state() == before


def test_suggested_cluster_names_are_numbered_when_taken(owner_user, application):
    request = services.submit_request(spec(new_application_name="My App_2"), owner_user)
    assert services.suggest_cluster_name(request) == "my-app-2-prod-pg"
    Cluster.objects.create(name="my-app-2-prod-pg", dbms_type="postgresql", application=application)
    Cluster.objects.create(name="my-app-2-prod-pg-2", dbms_type="postgresql", application=application)
    assert services.suggest_cluster_name(request) == "my-app-2-prod-pg-3"


def test_decisions_follow_the_workflow(owner_user, dba_user):
    request = services.submit_request(spec(), owner_user)
    with pytest.raises(Invalid):
        services.reject_request(request.reference, user=dba_user, comment=" ")
    approved = services.approve_request(request.reference, user=dba_user, comment="ok")
    assert approved.status == RequestStatus.APPROVED
    with pytest.raises(Conflict, match="is approved; it cannot become approved"):
        services.approve_request(request.reference, user=dba_user)
    rejected = services.reject_request(request.reference, user=dba_user, comment="No budget.")
    assert rejected.status == RequestStatus.REJECTED
    before = state()
    with pytest.raises(Conflict, match="is rejected"):
        services.fulfil_request(request.reference, user=dba_user)
    assert state() == before


def test_only_dbas_decide_and_only_requester_or_dbas_comment(owner_user, viewer_user, dba_user):
    request = services.submit_request(spec(), owner_user)
    for decide in (services.approve_request, services.fulfil_request):
        with pytest.raises(Forbidden):
            decide(request.reference, user=owner_user)
    with pytest.raises(Forbidden):
        services.reject_request(request.reference, user=owner_user, comment="no")
    with pytest.raises(Forbidden):
        services.add_comment(request.reference, user=viewer_user, comment="hi")
    services.add_comment(request.reference, user=owner_user, comment="Any news?")
    services.add_comment(request.reference, user=dba_user, comment="Next week.")
    comments = list(request.events.filter(to_status="").values_list("user__username", "comment"))
    assert comments == [(owner_user.username, "Any news?"), (dba_user.username, "Next week.")]
