from datetime import timedelta

import pytest
from django.utils import timezone

from rocketdbaas.intake import services
from rocketdbaas.inventory import services as inventory
from rocketdbaas.inventory.models import Application


def valid_payload(**overrides):
    """A valid /api/intake body (camelCase)."""
    body = {
        "requesterName": "Rita Requester",
        "requesterEmail": "rita@example.com",
        "newApplicationName": "Billing",
        "contacts": [{"name": "Ops Team", "email": "ops@example.com"}],
        "dbmsType": "postgresql",
        "environment": "prod",
        "numberOfServers": 2,
        "cpu": 4,
        "ram": 16,
        "dbGigs": 100,
        "expectedSizeGigs": 40,
        "growthGigsPerMonth": 2,
        "backupPolicy": "standard",
        "costCentre": "CC-1234",
        "neededBy": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "notes": "For the new billing service.",
    }
    body.update(overrides)
    return body


def spec(**overrides) -> services.RequestSpec:
    values = dict(
        requester_name="Rita Requester",
        requester_email="rita@example.com",
        new_application_name="Billing",
        contacts=[services.ContactSpec("Ops Team", "ops@example.com")],
        dbms_type="postgresql",
        environment="prod",
        number_of_servers=2,
        cpu=4,
        ram=16,
        db_gigs=100,
        expected_size_gigs=40,
        growth_gigs_per_month=2,
        backup_policy="standard",
        cost_centre="CC-1234",
        needed_by=timezone.localdate() + timedelta(days=30),
        notes="For the new billing service.",
    )
    values.update(overrides)
    return services.RequestSpec(**values)


@pytest.fixture
def add_pool(db):
    """add_pool("postgresql", ("pg-a", 4, 16, 100), ...): Free servers, through inventory's service."""

    def add(dbms_type, *specs):
        return inventory.add_pool_servers(
            dbms_type,
            [inventory.ServerSpec(server_name=n, cpu=c, ram=r, db_gigs=d) for n, c, r, d in specs],
        )

    return add


@pytest.fixture
def application(db):
    return Application.objects.create(name="Payments", cost_centre="CC-9")
