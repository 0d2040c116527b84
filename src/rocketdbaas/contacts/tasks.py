"""Email delivery runs as a task: after each commit that queues emails, on each retry, and as a sweep."""

from dataclasses import asdict
from datetime import datetime, timedelta

from django_tasks import task

from rocketdbaas.contacts.delivery import deliver_due_notifications
from rocketdbaas.core.config import config
from rocketdbaas.core.scheduler import periodic


# The sweep picks up what an immediate re-enqueue cannot: backends without deferred tasks, and
# messages whose task was lost (e.g. the process stopped between commit and enqueue).
@periodic(every=lambda: timedelta(seconds=config.CONTACTS_EMAIL_SWEEP_SECONDS))
@task()
def deliver_notifications() -> dict[str, int]:
    """Send every due notification email; the return value counts sent, failed and retrying ones.

    When messages wait for a retry, the task puts itself back on the queue for when they are due.
    """
    return asdict(deliver_due_notifications(retry_at=enqueue_delivery))


def enqueue_delivery(run_after: datetime | None = None) -> None:
    task = deliver_notifications
    if run_after is not None:
        if not task.get_backend().supports_defer:
            # This backend cannot run a task later; the periodic sweep retries instead.
            return
        task = task.using(run_after=run_after)
    task.enqueue()
