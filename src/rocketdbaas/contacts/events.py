"""The adapter from the patching signals to the notification service.

The notification service only knows its small event dataclasses; `patch_event_from_run` turns a
PatchRun (and, for a failure, its step) into one, grouped by application.
"""

import logging
from typing import Any

from django.urls import reverse

from rocketdbaas.contacts import notifications
from rocketdbaas.contacts.models import NotificationEvent
from rocketdbaas.contacts.notifications import ApplicationServers, PatchEvent, ServerOutcome
from rocketdbaas.core.config import config
from rocketdbaas.patching.models import StepOutcome

logger = logging.getLogger(__name__)


def run_url(run_id: int) -> str:
    return config.BASE_URL.rstrip("/") + reverse("patching:run-detail", args=[run_id])


def _event_key(event: NotificationEvent, run: Any, step: Any = None) -> str:
    key = f"patch-run:{run.id}:{event.value}"
    if step is not None:
        return f"{key}:step:{step.id}"
    if event == NotificationEvent.PATCH_FINISHED and run.finished_at:
        # A failed run can be retried and finish again; that later finish is news too.
        return f"{key}:{run.finished_at.isoformat()}"
    return key


def patch_event_from_run(event: NotificationEvent, run: Any, step: Any = None) -> PatchEvent:
    """Build the event from a PatchRun; for a failed step, only its application is told.

    A server retried in the run has several steps; the email shows its latest one, in the place
    of its first.
    """
    steps = run.steps.select_related("cluster", "server").order_by("id")
    if step is not None:
        steps = steps.filter(cluster__application_id=step.cluster.application_id)
    by_application: dict[int, dict[int, ServerOutcome]] = {}
    for s in steps:
        by_application.setdefault(s.cluster.application_id, {})[s.server_id] = ServerOutcome(
            cluster=s.cluster.name,
            server=s.server.name,
            outcome=s.outcome or s.status,
            version_before=s.version_before or "",
            version_after=s.version_after or "",
            exit_code=s.exit_code,
        )
    return PatchEvent(
        event=event,
        key=_event_key(event, run, step),
        run_id=run.id,
        dbms_type=run.dbms_type,
        patch_type=run.patch_type,
        patch_version=run.patch_version,
        run_status=run.status,
        run_url=run_url(run.id),
        applications=tuple(
            ApplicationServers(application_id, tuple(servers.values()))
            for application_id, servers in by_application.items()
        ),
        failed_server=step.server.name if step is not None else "",
    )


def _announce(event: NotificationEvent, run: Any, step: Any = None) -> None:
    # A dry run only checks; it touches no server, so there is nothing to tell contacts.
    if getattr(run, "dry_run", False):
        return
    try:
        notifications.notify_patch_event(patch_event_from_run(event, run, step))
    except Exception:
        # Email must never fail a patch: the signal is sent from the run's own code path.
        logger.exception("Could not queue %s emails for patch run %s", event.value, run.id)


def on_run_started(sender, run, **kwargs) -> None:
    _announce(NotificationEvent.PATCH_STARTED, run)


def on_step_finished(sender, run, step, **kwargs) -> None:
    if step.outcome == StepOutcome.FAILED:  # the only step outcome worth an email
        _announce(NotificationEvent.PATCH_SERVER_FAILED, run, step)


def on_run_finished(sender, run, **kwargs) -> None:
    _announce(NotificationEvent.PATCH_FINISHED, run)
