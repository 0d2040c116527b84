"""Background jobs: the periodic fleet collection, on-demand runs, and retention."""

from datetime import timedelta

from django_tasks import task

from rocketdbaas.core.config import config
from rocketdbaas.core.scheduler import periodic
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import CollectionRun, RunTrigger


@periodic(every=lambda: timedelta(seconds=config.COLLECT_INTERVAL_SECONDS))
@task()
def collect_fleet() -> int:
    """Every active server of every type; returns the run id."""
    return services.collect(trigger=RunTrigger.SCHEDULE).pk


@task()
def run_collection(run_id: int) -> int:
    """A run requested through the API (already created, pending)."""
    run = CollectionRun.objects.get(pk=run_id)
    return services.collect(run).pk


@periodic(every=lambda: timedelta(seconds=config.TELEMETRY_RETENTION_INTERVAL_SECONDS))
@task()
def apply_retention() -> dict[str, int]:
    return services.apply_retention()
