"""Background jobs: the periodic fleet collection, on-demand runs, and retention."""

from datetime import timedelta

from django.conf import settings
from django_tasks import task

from rocketdbaas.core.scheduler import periodic
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import CollectionRun, RunTrigger

COLLECT_EVERY = timedelta(seconds=getattr(settings, "COLLECT_INTERVAL_SECONDS", 3600))
RETENTION_EVERY = timedelta(seconds=getattr(settings, "TELEMETRY_RETENTION_INTERVAL_SECONDS", 6 * 3600))


@periodic(every=COLLECT_EVERY)
@task()
def collect_fleet() -> int:
    """Every active server of every type; returns the run id."""
    return services.collect(trigger=RunTrigger.SCHEDULE).pk


@task()
def run_collection(run_id: int) -> int:
    """A run requested through the API (already created, pending)."""
    run = CollectionRun.objects.get(pk=run_id)
    return services.collect(run).pk


@periodic(every=RETENTION_EVERY)
@task()
def apply_retention() -> dict[str, int]:
    return services.apply_retention()
