"""Patch runs execute as tasks on the worker; the reconciler resumes runs whose worker is gone."""

from datetime import timedelta

from django.conf import settings
from django_tasks import task

from rocketdbaas.core.scheduler import periodic
from rocketdbaas.patching import services
from rocketdbaas.patching.orchestrator import RunOrchestrator

RECONCILE_EVERY = timedelta(seconds=getattr(settings, "PATCH_RECONCILE_SECONDS", 30))


@task()
def execute_patch_run(run_id: int) -> str | None:
    """Run (or resume) a patch run; a no-op when another live worker already owns it."""
    return RunOrchestrator(run_id).execute()


@periodic(every=RECONCILE_EVERY, at_start=True)
@task()
def reconcile_patch_runs() -> list[int]:
    """Queue again every run whose worker stopped heartbeating or whose task was lost."""
    return services.reconcile_runs()
