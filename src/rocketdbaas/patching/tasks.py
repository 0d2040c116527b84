"""Patch runs execute as tasks on the worker; the reconciler resumes runs whose worker is gone."""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from rocketdbaas.core.config import config
from rocketdbaas.core.scheduler import periodic
from rocketdbaas.patching.models import CLAIMABLE_RUN_STATUSES, PatchRun, RunStatus
from rocketdbaas.patching.orchestrator import RunOrchestrator
from rocketdbaas.patching.run_state import lease_seconds

logger = logging.getLogger(__name__)


@task()
def execute_patch_run(run_id: int) -> str | None:
    """Run (or resume) a patch run; a no-op when another live worker already owns it."""
    return RunOrchestrator(run_id).execute()


@periodic(every=lambda: timedelta(seconds=config.PATCH_RECONCILE_SECONDS), at_start=True)
@task()
def reconcile_patch_runs() -> list[int]:
    """Queue again every run whose worker stopped heartbeating or whose task was lost."""
    return reconcile_runs()


def enqueue_run(run_id: int) -> None:
    PatchRun.objects.filter(pk=run_id).update(queued_at=timezone.now())
    execute_patch_run.enqueue(run_id)


def reconcile_runs(now: datetime | None = None) -> list[int]:
    """Find runs whose worker is gone (lease expired) or whose queued task was lost, mark the
    former interrupted, and queue them again. A worker that takes one over re-reads every
    server's real state before acting."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    requeue: list[int] = []
    with transaction.atomic():
        candidates = (
            PatchRun.objects.select_for_update()
            .filter(dry_run=False, status__in=CLAIMABLE_RUN_STATUSES)
            .filter(
                Q(~Q(owner=""), heartbeat_at__lt=stale)
                | Q(owner="", queued_at__lt=stale)
                | Q(owner="", queued_at__isnull=True)
            )
            .order_by("pk")
        )
        for run in candidates:
            if run.owner:
                logger.warning("Patch run %s: worker %s stopped heartbeating; resuming it", run.pk, run.owner)
            # Clearing the owner fences the old worker out (its heartbeat and writes check it) and,
            # with queued_at, keeps the next reconcile from queueing the run again while it waits.
            PatchRun.objects.filter(pk=run.pk).update(
                status=RunStatus.INTERRUPTED if run.owner else run.status, owner="", queued_at=now
            )
            requeue.append(run.pk)
        for run_id in requeue:
            transaction.on_commit(partial(enqueue_run, run_id))
    return requeue
