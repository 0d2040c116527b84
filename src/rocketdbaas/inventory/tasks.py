"""Background jobs of the inventory: pool leases that ran out go back to Free."""

from datetime import timedelta

from django_tasks import task

from rocketdbaas.core.config import config
from rocketdbaas.core.scheduler import periodic
from rocketdbaas.inventory import services


# Pulls also free expired leases lazily; the sweep makes the pool listing right between pulls.
@periodic(every=lambda: timedelta(seconds=config.POOL_LEASE_SWEEP_SECONDS))
@task()
def release_expired_pool_leases() -> int:
    return services.release_expired_leases()
