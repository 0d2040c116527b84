from datetime import timedelta

from django.test import Client
from django.utils import timezone
from tests.support.fixtures import make_user

from rocketdbaas.accounts.models import Role
from rocketdbaas.intake import services as intake
from rocketdbaas.inventory import services as inventory


def submit(user, app: str):
    return intake.submit_request(
        intake.RequestSpec(
            requester_name="R",
            requester_email="r@example.com",
            new_application_name=app,
            dbms_type="postgresql",
            environment="dev",
            number_of_servers=1,
            cpu=2,
            ram=4,
            db_gigs=10,
            expected_size_gigs=1,
            cost_centre="CC",
            needed_by=timezone.localdate() + timedelta(days=5),
        ),
        user,
    )


def test_dashboard_counts_the_fleet_and_lists_open_requests(
    dba_user, owner_user, django_assert_max_num_queries
):
    inventory.add_pool_servers("postgresql", [inventory.ServerSpec(f"spare-{i}", 2, 4, 10) for i in range(3)])
    inventory.pull_and_lock("postgresql", 1, cpu=1, ram=1, db_gigs=1, user=dba_user)
    mine = submit(owner_user, "Mine")
    theirs = submit(dba_user, "Theirs")
    client = Client()
    client.force_login(dba_user)
    with django_assert_max_num_queries(6):  # session, user, 2 fleet aggregates, open requests and their count
        page = client.get("/").content.decode()
    pg = page.split('data-dbms-type="postgresql"', 1)[1].split("</section>", 1)[0]
    assert '<div class="value">2</div><div class="label">free in pool, 1 locked' in pg
    assert "Requests awaiting the DBA team (2)" in page
    assert mine.reference in page and theirs.reference in page

    client.force_login(owner_user)
    page = client.get("/").content.decode()
    assert mine.reference in page and theirs.reference not in page
    assert "Request a database" in page
    client.force_login(make_user("v", Role.VIEWER))
    assert "Request a database" not in client.get("/").content.decode()
