"""Patching emails: one per event, application and recipient, queued in the NotificationLog outbox;
the delivery task sends them (contacts.delivery) once the transaction that queued them commits.
"""

from dataclasses import dataclass

from django.db import transaction
from django.template.loader import render_to_string

from rocketdbaas.contacts.models import ApplicationContact, Contact, NotificationEvent, NotificationLog
from rocketdbaas.contacts.tasks import enqueue_delivery
from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory.models import Application


@dataclass(frozen=True)
class ServerOutcome:
    cluster: str
    server: str
    outcome: str
    version_before: str = ""
    version_after: str = ""
    exit_code: int | None = None


@dataclass(frozen=True)
class ApplicationServers:
    """The part of a run that concerns one application: its clusters' servers, in patch order."""

    application_id: int
    servers: tuple[ServerOutcome, ...]

    @property
    def clusters(self) -> list[tuple[str, list[ServerOutcome]]]:
        order: dict[str, list[ServerOutcome]] = {}
        for server in self.servers:
            order.setdefault(server.cluster, []).append(server)
        return list(order.items())


@dataclass(frozen=True)
class PatchEvent:
    event: NotificationEvent
    key: str  # unique per occurrence; with application and recipient it makes each email idempotent
    run_id: int
    dbms_type: str
    patch_type: str
    patch_version: str
    run_status: str
    run_url: str
    applications: tuple[ApplicationServers, ...]
    failed_server: str = ""


# --- queueing ---------------------------------------------------------------------------

_SUBJECTS = {
    NotificationEvent.PATCH_STARTED: "Patching started",
    NotificationEvent.PATCH_SERVER_FAILED: "Patching FAILED on {failed_server}",
    NotificationEvent.PATCH_FINISHED: "Patching {run_status}",
}


def _subject(event: PatchEvent, application: Application) -> str:
    what = _SUBJECTS[event.event].format(failed_server=event.failed_server, run_status=event.run_status)
    dbms = DbmsType(event.dbms_type).label if event.dbms_type in DbmsType.values else event.dbms_type
    return (
        f"[RocketDBaaS] {what}: {application.name} - {dbms} {event.patch_type} {event.patch_version} "
        f"(run #{event.run_id})"
    )[:300]


def render_patch_email(
    event: PatchEvent, application: Application, servers: ApplicationServers
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of one application's email about one event."""
    context = {
        "event": event,
        "kind": event.event.value,
        "event_label": event.event.label,
        "application": application,
        "dbms_label": DbmsType(event.dbms_type).label
        if event.dbms_type in DbmsType.values
        else event.dbms_type,
        "clusters": servers.clusters,
        "server_count": len(servers.servers),
    }
    return (
        _subject(event, application),
        render_to_string("contacts/email/patch_event.txt", context),
        render_to_string("contacts/email/patch_event.html", context),
    )


def notify_patch_event(event: PatchEvent) -> int:
    """Queue one email per application and recipient (its reachable contacts with patching emails on).

    Idempotent: the same event announced again queues nothing new. Returns how many were queued.
    """
    app_ids = [target.application_id for target in event.applications]
    with transaction.atomic():
        applications = Application.objects.in_bulk(app_ids)
        links = (
            ApplicationContact.objects.filter(application_id__in=app_ids, patching_emails=True)
            .filter(contact__in=Contact.objects.reachable())
            .select_related("contact")
            .order_by("contact__email", "id")
        )
        already = set(
            NotificationLog.objects.filter(event_key=event.key, application_id__in=app_ids).values_list(
                "application_id", "recipient_email"
            )
        )
        recipients: dict[int, dict[str, Contact]] = {}
        for link in links:
            if (link.application_id, link.contact.email) not in already:
                recipients.setdefault(link.application_id, {}).setdefault(link.contact.email, link.contact)
        rows: list[NotificationLog] = []
        for target in event.applications:
            application = applications.get(target.application_id)
            if application is None or not recipients.get(application.pk):
                continue
            subject, text, html = render_patch_email(event, application, target)
            rows.extend(
                NotificationLog(
                    event_key=event.key,
                    event=event.event,
                    application=application,
                    contact=contact,
                    recipient_email=email,
                    recipient_name=contact.name,
                    subject=subject,
                    body_text=text,
                    body_html=html,
                )
                for email, contact in recipients[application.pk].items()
            )
        # ignore_conflicts covers a concurrent announcement of the same event between the check and here.
        NotificationLog.objects.bulk_create(rows, ignore_conflicts=True)
        if rows:
            transaction.on_commit(enqueue_delivery, robust=True)
    return len(rows)
