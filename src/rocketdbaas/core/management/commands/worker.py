"""`rocketdbaas worker`: runs queued tasks and enqueues periodic jobs when they are due."""

import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.module_loading import autodiscover_modules

from rocketdbaas.core.config import config
from rocketdbaas.core.scheduler import PERIODIC_JOBS, run_scheduler


class Command(BaseCommand):
    help = (
        "Run a task worker: the django-tasks database worker (or an RQ worker when "
        "TASKS_BACKEND=rq) plus the periodic job scheduler. Start as many as you like."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-scheduler", action="store_true", help="Do not enqueue periodic jobs here.")
        parser.add_argument(
            "--tick", type=float, default=5.0, help="Seconds between scheduler checks (default: 5)."
        )

    def handle(self, *args, no_scheduler: bool, tick: float, verbosity: int, **options):
        # Periodic jobs register themselves when their app's tasks module is imported.
        autodiscover_modules("tasks")
        stop = threading.Event()
        scheduler = None
        if not no_scheduler:
            scheduler = threading.Thread(
                target=run_scheduler, args=(stop, tick), name="scheduler", daemon=True
            )
            scheduler.start()
            self.stdout.write(
                f"Scheduler: {len(PERIODIC_JOBS)} periodic job(s): {', '.join(sorted(PERIODIC_JOBS))}"
            )
        try:
            if config.TASKS_BACKEND == "rq":
                # Jobs run in this process (SimpleWorker), not in a forked child: a fork would share
                # the parent's database connections, and a child outlives the worker's SIGTERM.
                call_command(
                    "rqworker",
                    *settings.RQ_QUEUES,
                    job_class="django_tasks_rq.backend.Job",
                    worker_class="rq.worker.SimpleWorker",
                    verbosity=verbosity,
                )
            elif config.TASKS_BACKEND == "db":
                # The db worker stops on SIGTERM/SIGINT (after the running task) by raising SystemExit.
                call_command("db_worker", queue_name="*", reload=False, interval=1.0, verbosity=verbosity)
            else:
                self.stdout.write(
                    f"TASKS_BACKEND={config.TASKS_BACKEND} runs tasks in-process; scheduling only."
                )
                stop.wait()
        finally:
            stop.set()
            if scheduler is not None:
                scheduler.join(timeout=tick + 10)
