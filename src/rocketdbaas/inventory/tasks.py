"""Background jobs of the inventory: pool leases that ran out go back to Free."""

from datetime import timedelta

from django.conf import settings
from django_tasks import task

from rocketdbaas.core.scheduler import periodic
from rocketdbaas.inventory import services

# Pulls also free expired leases lazily; the sweep makes the pool listing right between pulls.
SWEEP_EVERY = timedelta(seconds=getattr(settings, "POOL_LEASE_SWEEP_SECONDS", 60))


@periodic(every=SWEEP_EVERY)
@task()
def release_expired_pool_leases() -> int:
    return services.release_expired_leases()
