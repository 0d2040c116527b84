"""Demo intake requests: a few open requests for the DBA team, filed by a demo application owner."""

from datetime import timedelta

from django.utils import timezone

from rocketdbaas.accounts.models import Role, User
from rocketdbaas.intake import services
from rocketdbaas.intake.models import IntakeRequest
from rocketdbaas.inventory.models import Application

REQUESTER = "demo-owner"


def load_demo(stdout) -> None:
    if IntakeRequest.objects.exists():
        stdout.write("  intake requests already present; left alone")
        return
    owner, created = User.objects.get_or_create(
        username=REQUESTER,
        defaults={
            "role": Role.OWNER,
            "first_name": "Dana",
            "last_name": "Owner",
            "email": "dana@example.com",
        },
    )
    if created:
        # No password: the demo owner exists to own requests; an admin sets one to log in as them.
        owner.set_unusable_password()
        owner.save()
    orders = Application.objects.filter(name="orders").first()
    if orders is not None:
        orders.owners.add(owner)
    today = timezone.localdate()
    requests = [
        services.RequestSpec(
            requester_name="Dana Owner",
            requester_email="dana@example.com",
            new_application_name="loyalty",
            contacts=[services.ContactSpec("Loyalty team", "loyalty@example.com")],
            dbms_type="postgresql",
            environment="prod",
            number_of_servers=2,
            cpu=8,
            ram=64,
            db_gigs=1000,
            expected_size_gigs=300,
            growth_gigs_per_month=25,
            cost_centre="CC-5150",
            needed_by=today + timedelta(days=21),
            notes="Points ledger for the loyalty programme; launch in Q3.",
        ),
        services.RequestSpec(
            requester_name="Dana Owner",
            requester_email="dana@example.com",
            application="orders" if orders else "",
            new_application_name="" if orders else "orders",
            dbms_type="mongodb",
            environment="uat",
            number_of_servers=3,
            cpu=4,
            ram=32,
            db_gigs=500,
            expected_size_gigs=120,
            growth_gigs_per_month=5,
            cost_centre="CC-2040",
            needed_by=today + timedelta(days=10),
            notes="UAT replica set for the order-history service.",
        ),
    ]
    for spec in requests:
        made = services.submit_request(spec, owner)
        stdout.write(f"  {made.reference}: {made.get_dbms_type_display()} for {made.application_name}")
