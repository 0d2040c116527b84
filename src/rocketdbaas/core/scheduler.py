"""Periodic jobs: tasks that the worker enqueues on a fixed interval.

Apps register a task in their `tasks.py`:

    @periodic(every=lambda: timedelta(seconds=config.COLLECT_INTERVAL_SECONDS))
    @task()
    def collect_fleet(): ...

`every` is a timedelta, or a function returning one: a function is asked at each scheduling, so
an interval taken from a setting follows override_settings and settings changed after import.

Every worker process runs the scheduler loop; a row per job in the database (locked while
checked) makes sure only one worker enqueues each due run, however many workers there are.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Any  # a django_tasks Task
    interval: Callable[[], timedelta]
    at_start: bool = False  # also enqueued once whenever a worker starts

    @property
    def every(self) -> timedelta:
        """Asked at each scheduling, so an interval that comes from a setting follows the setting."""
        return self.interval()


PERIODIC_JOBS: dict[str, PeriodicJob] = {}


def periodic(every: timedelta | Callable[[], timedelta], name: str | None = None, at_start: bool = False):
    interval = every if callable(every) else (lambda: every)

    def register(task_obj):
        job_name = name or task_obj.module_path
        PERIODIC_JOBS[job_name] = PeriodicJob(job_name, task_obj, interval, at_start)
        return task_obj

    return register


def _ensure_state_rows(now) -> None:
    from rocketdbaas.core.models import PeriodicJobState

    known = set(PeriodicJobState.objects.filter(name__in=PERIODIC_JOBS).values_list("name", flat=True))
    missing = [PeriodicJobState(name=name, next_run_at=now) for name in PERIODIC_JOBS if name not in known]
    if missing:
        # Several workers may start at once; the unique name keeps one row per job.
        PeriodicJobState.objects.bulk_create(missing, ignore_conflicts=True)


def run_due_jobs(now: datetime | None = None) -> list[str]:
    """Enqueue every periodic job that is due; returns the names enqueued by this call.

    The due rows are locked (skip_locked on PostgreSQL; SQLite's IMMEDIATE transaction
    serialises) and moved to their next run, so two workers never claim the same run. The
    claimed jobs are enqueued once that commits: a queue outside the database (RQ) could
    otherwise start a job while this transaction still holds its locks.
    """
    from rocketdbaas.core.models import PeriodicJobState

    if not PERIODIC_JOBS:
        return []
    now = now or timezone.now()
    _ensure_state_rows(now)
    with transaction.atomic():
        due = list(
            PeriodicJobState.objects.select_for_update(skip_locked=True)
            .filter(name__in=PERIODIC_JOBS, next_run_at__lte=now)
            .order_by("pk")
        )
        for state in due:
            state.last_enqueued_at = now
            state.next_run_at = now + PERIODIC_JOBS[state.name].every
            state.save(update_fields=["last_enqueued_at", "next_run_at"])
    for state in due:
        result = PERIODIC_JOBS[state.name].task.enqueue()
        PeriodicJobState.objects.filter(pk=state.pk).update(last_result_id=str(result.id)[:64])
    enqueued = [state.name for state in due]
    if enqueued:
        logger.info("Enqueued periodic jobs: %s", ", ".join(enqueued))
    return enqueued


def run_scheduler(stop: threading.Event, tick: float = 5.0) -> None:
    """The worker's scheduler loop, until `stop` is set. Errors are logged and retried next tick."""
    try:
        for job in PERIODIC_JOBS.values():
            if job.at_start:
                try:
                    job.task.enqueue()
                except Exception:
                    logger.exception("Could not enqueue %s at worker start", job.name)
        while not stop.is_set():
            try:
                run_due_jobs()
            except Exception:
                logger.exception("Periodic job scheduling failed; retrying in %.0f s", tick)
            finally:
                close_old_connections()
            stop.wait(tick)
    finally:
        connection.close()
