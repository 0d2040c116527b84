"""Contacts, their links to applications, who may change them, and the patching emails they get.

Every change runs in one transaction with its ContactChange row; emails are queued in the
NotificationLog outbox and sent by a task after the transaction commits.
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import Min, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from pydantic.alias_generators import to_camel

from rocketdbaas.accounts.models import Role
from rocketdbaas.contacts.events import PatchEvent
from rocketdbaas.contacts.models import (
    ApplicationContact,
    Contact,
    ContactAction,
    ContactChange,
    ContactQuerySet,
    ContactRole,
    ContactStatus,
    NotificationEvent,
    NotificationLog,
    NotificationStatus,
)
from rocketdbaas.core.errors import Conflict, Forbidden, Invalid, NotFound
from rocketdbaas.core.middleware import current_request_id
from rocketdbaas.core.permissions import is_fleet_operator
from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory.models import Application

logger = logging.getLogger(__name__)

CONTACT_FIELDS = ("name", "email", "phone", "team", "notes", "valid_from", "valid_to")


# --- who may do what -------------------------------------------------------------------------


def can_read_everything(user) -> bool:
    return is_fleet_operator(user) or (user.is_authenticated and user.role == Role.VIEWER)


def owned_application_ids(user) -> set[int]:
    return set(user.owned_applications.values_list("pk", flat=True)) if user.is_authenticated else set()


def can_view_application(user, application: Application) -> bool:
    return can_read_everything(user) or application.pk in owned_application_ids(user)


def can_manage_application(user, application: Application) -> bool:
    """dba and admin manage every application's contacts; owners only their own."""
    if is_fleet_operator(user):
        return True
    return (
        user.is_authenticated and user.role != Role.VIEWER and application.pk in owned_application_ids(user)
    )


def _require_manage_application(user, application: Application) -> None:
    if not can_manage_application(user, application):
        raise Forbidden(f"You may not change the contacts of application {application.name!r}.")


def can_manage_contact(user, contact: Contact) -> bool:
    """Owners change a contact only when every application it serves is theirs."""
    if is_fleet_operator(user):
        return True
    if not user.is_authenticated or user.role == Role.VIEWER:
        return False
    linked = {link.application_id for link in contact.links.all()}
    return bool(linked) and linked <= owned_application_ids(user)


def _require_manage_contact(user, contact: Contact) -> None:
    if not can_manage_contact(user, contact):
        raise Forbidden("You may only change contacts that serve nothing but your own applications.")


# --- reading ---------------------------------------------------------------------------------


def get_application(name: str) -> Application:
    application = Application.objects.filter(name=name).first()
    if application is None:
        raise NotFound(f"Unknown application {name!r}.")
    return application


def visible_contacts(user) -> ContactQuerySet:
    contacts = Contact.objects.prefetch_related("links__application")
    if can_read_everything(user):
        return contacts
    return contacts.filter(links__application__in=owned_application_ids(user)).distinct()


def list_contacts(
    user,
    *,
    name: str | None = None,
    email: str | None = None,
    application: str | None = None,
    status: ContactStatus = ContactStatus.ACTIVE,
) -> ContactQuerySet:
    contacts = visible_contacts(user).with_status(status)
    if name:
        contacts = contacts.filter(name__icontains=name)
    if email:
        contacts = contacts.filter(email__icontains=email.strip().lower())
    if application:
        app = get_application(application)
        if not can_view_application(user, app):
            raise Forbidden(f"You may not see the contacts of application {app.name!r}.")
        contacts = contacts.filter(links__application=app)
    return contacts.order_by("name", "id")


def get_contact(user, contact_id: int) -> Contact:
    contact = Contact.objects.prefetch_related("links__application").filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(f"Unknown contact {contact_id}.")
    if not can_read_everything(user) and not (
        {link.application_id for link in contact.links.all()} & owned_application_ids(user)
    ):
        raise Forbidden("You may only see the contacts of your own applications.")
    return contact


def application_links(
    user, application: Application, status: ContactStatus = ContactStatus.ACTIVE
) -> QuerySet[ApplicationContact]:
    if not can_view_application(user, application):
        raise Forbidden(f"You may not see the contacts of application {application.name!r}.")
    return (
        ApplicationContact.objects.filter(application=application)
        .filter(contact__in=Contact.objects.with_status(status))
        .select_related("contact", "application")
        .prefetch_related("contact__links__application")
        .order_by("contact__name", "id")
    )


def get_link(user, application_name: str, contact_id: int) -> ApplicationContact:
    application = get_application(application_name)
    link = application_links(user, application, ContactStatus.ALL).filter(contact_id=contact_id).first()
    if link is None:
        raise NotFound(f"Contact {contact_id} is not linked to application {application.name!r}.")
    return link


def list_notifications(
    user, *, application: str | None = None, status: NotificationStatus | None = None
) -> QuerySet[NotificationLog]:
    notifications = NotificationLog.objects.select_related("application")
    if application:
        app = get_application(application)
        if not can_view_application(user, app):
            raise Forbidden(f"You may not see the notifications of application {app.name!r}.")
        notifications = notifications.filter(application=app)
    elif not can_read_everything(user):
        notifications = notifications.filter(application__in=owned_application_ids(user))
    if status:
        notifications = notifications.filter(status=status)
    return notifications.order_by("-created_at", "-id")


def get_notification(user, notification_id: int) -> NotificationLog:
    notification = NotificationLog.objects.select_related("application").filter(pk=notification_id).first()
    if notification is None:
        raise NotFound(f"Unknown notification {notification_id}.")
    if not can_view_application(user, notification.application):
        raise Forbidden("You may only see the notifications of your own applications.")
    return notification


def cluster_detail_section(cluster) -> dict[str, Any]:
    """The application's current contacts, for GET /api/{dbmsType}/Cluster/{ClusterName} (one query)."""
    links = (
        ApplicationContact.objects.filter(application_id=cluster.application_id)
        .filter(contact__in=Contact.objects.reachable())
        .select_related("contact")
        .order_by("contact__name", "id")
    )
    return {
        "contacts": [
            {
                "id": link.contact.pk,
                "name": link.contact.name,
                "email": link.contact.email,
                "phone": link.contact.phone,
                "team": link.contact.team,
                "role": link.role,
                "patchingEmails": link.patching_emails,
            }
            for link in links
        ]
    }


# --- changing contacts -----------------------------------------------------------------------


def _record(user, contact: Contact, action: ContactAction, application=None, changes=None) -> None:
    ContactChange.objects.create(
        contact=contact,
        application=application,
        action=action,
        changes=changes or {},
        user=user if user is not None and user.is_authenticated else None,
        request_id=current_request_id(),
    )


def _as_aware(value: datetime | None) -> datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, UTC)
    return value


def _camel_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": None if field == "__all__" else to_camel(field), "message": message}
        for field, messages in exc.message_dict.items()
        for message in messages
    ]


def _validate_contact(contact: Contact, *, end_changed: bool) -> None:
    """Field rules of the model plus dates that make sense; raises a 422 with camelCase fields."""
    errors: list[dict[str, Any]] = []
    try:
        contact.full_clean(exclude=["created_at", "updated_at"], validate_constraints=False)
    except ValidationError as exc:
        errors.extend(_camel_errors(exc))
    if contact.valid_to is not None and contact.valid_from and contact.valid_to <= contact.valid_from:
        errors.append({"field": "validTo", "message": "validTo must be after validFrom."})
    elif end_changed and contact.valid_to is not None and contact.valid_to <= timezone.now():
        errors.append(
            {"field": "validTo", "message": "validTo must be in the future; expire the contact instead."}
        )
    if errors:
        raise Invalid("The contact is not valid.", errors=errors)


def _lock_email(email: str) -> None:
    """Serialise writers of one email address, so two of them cannot both pass the uniqueness check.

    SQLite already runs one writing transaction at a time (IMMEDIATE); PostgreSQL gets an advisory lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"contact-email:{email}"])


def _check_email_free(contact: Contact) -> None:
    _lock_email(contact.email)
    others = Contact.objects.not_expired().filter(email__iexact=contact.email).exclude(pk=contact.pk)
    clash = others.values_list("pk", flat=True).first()
    if clash is not None:
        raise Conflict(
            f"Another active contact (id {clash}) already has the email {contact.email}.",
            existingContactId=clash,
        )


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k in CONTACT_FIELDS}
    for field in ("name", "phone", "team"):
        if isinstance(data.get(field), str):
            data[field] = data[field].strip()
    if isinstance(data.get("email"), str):
        data["email"] = data["email"].strip().lower()
    for field in ("valid_from", "valid_to"):
        if field in data:
            data[field] = _as_aware(data[field])
    if data.get("valid_from") is None:
        data.pop("valid_from", None)
    return data


def _new_contact(data: dict[str, Any]) -> Contact:
    contact = Contact(**_normalise(data))
    _validate_contact(contact, end_changed=contact.valid_to is not None)
    _check_email_free(contact)
    contact.save()
    return contact


def _snapshot(contact: Contact) -> dict[str, Any]:
    return {
        f: (v.isoformat() if isinstance(v, datetime) else v)
        for f in CONTACT_FIELDS
        if (v := getattr(contact, f)) not in ("", None)
    }


def create_contact(user, data: dict[str, Any]) -> Contact:
    """A new contact, not yet linked; only dba and admin (owners sign contacts up for an application)."""
    if not is_fleet_operator(user):
        raise Forbidden(
            "Only dba and admin create unlinked contacts; owners sign contacts up through "
            "/api/applications/{name}/contacts."
        )
    with transaction.atomic():
        contact = _new_contact(data)
        _record(user, contact, ContactAction.CREATED, changes=_snapshot(contact))
    return contact


def _locked_contact(contact_id: int) -> Contact:
    contact = (
        Contact.objects.select_for_update(of=("self",))
        .prefetch_related("links")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise NotFound(f"Unknown contact {contact_id}.")
    return contact


def update_contact(user, contact_id: int, changes: dict[str, Any]) -> Contact:
    with transaction.atomic():
        contact = _locked_contact(contact_id)
        _require_manage_contact(user, contact)
        if contact.is_expired():
            raise Conflict("This contact has expired and is kept as history; reactivate it first.")
        changes = _normalise(changes)
        before = {f: getattr(contact, f) for f in changes}
        for field, value in changes.items():
            setattr(contact, field, value)
        _validate_contact(
            contact, end_changed="valid_to" in changes and before["valid_to"] != contact.valid_to
        )
        if "email" in changes:
            _check_email_free(contact)
        diff = {
            f: [_jsonable(before[f]), _jsonable(getattr(contact, f))]
            for f in changes
            if before[f] != getattr(contact, f)
        }
        if diff:
            contact.save()
            _record(user, contact, ContactAction.UPDATED, changes=diff)
    return contact


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def expire_contact(user, contact_id: int, at: datetime | None = None) -> Contact:
    """End a contact now or at a later moment; it stays linked (history) but gets nothing more."""
    now = timezone.now()
    at = _as_aware(at) or now
    if at < now:
        raise Invalid(
            "A contact cannot be expired in the past.",
            errors=[{"field": "at", "message": "Give a future moment, or nothing to expire now."}],
        )
    with transaction.atomic():
        contact = _locked_contact(contact_id)
        _require_manage_contact(user, contact)
        if contact.is_expired(now):
            raise Conflict("This contact has already expired.")
        before = contact.valid_to
        contact.valid_to = at
        if contact.valid_from > at:
            # Expiring a contact that has not started yet cancels it: an empty validity period.
            contact.valid_from = at
        contact.save(update_fields=["valid_to", "valid_from", "updated_at"])
        _record(
            user, contact, ContactAction.EXPIRED, changes={"valid_to": [_jsonable(before), at.isoformat()]}
        )
    return contact


def reactivate_contact(user, contact_id: int) -> Contact:
    """Clear the end date (an expiry past or planned), if no other active contact took the email."""
    with transaction.atomic():
        contact = _locked_contact(contact_id)
        _require_manage_contact(user, contact)
        if contact.valid_to is None:
            raise Conflict("This contact is active and has no end date.")
        _check_email_free(contact)
        before = contact.valid_to
        contact.valid_to = None
        contact.save(update_fields=["valid_to", "updated_at"])
        _record(user, contact, ContactAction.REACTIVATED, changes={"valid_to": [_jsonable(before), None]})
    return contact


# --- application links -----------------------------------------------------------------------


def _role(value: str | None) -> ContactRole:
    try:
        return ContactRole(value or ContactRole.NOTIFY)
    except ValueError:
        raise Invalid(
            "Unknown contact role.",
            errors=[{"field": "role", "message": f"One of: {', '.join(ContactRole.values)}."}],
        ) from None


def _link(
    user, application: Application, contact: Contact, role, patching_emails: bool
) -> ApplicationContact:
    if contact.is_expired():
        raise Conflict(f"Contact {contact.pk} has expired; reactivate it before linking it.")
    if ApplicationContact.objects.filter(application=application, contact=contact).exists():
        raise Conflict(
            f"Contact {contact.pk} is already linked to {application.name!r}; change the link instead."
        )
    link = ApplicationContact.objects.create(
        application=application, contact=contact, role=_role(role), patching_emails=patching_emails
    )
    _record(
        user,
        contact,
        ContactAction.LINKED,
        application=application,
        changes={"role": link.role, "patching_emails": link.patching_emails},
    )
    return link


def link_contact(
    user, application_name: str, contact_id: int, *, role: str | None = None, patching_emails: bool = True
) -> ApplicationContact:
    """Attach an existing, unexpired contact to an application."""
    with transaction.atomic():
        application = get_application(application_name)
        _require_manage_application(user, application)
        contact = _locked_contact(contact_id)
        return _link(user, application, contact, role, patching_emails)


def sign_up_contact(
    user,
    application_name: str,
    data: dict[str, Any],
    *,
    role: str | None = None,
    patching_emails: bool = True,
) -> ApplicationContact:
    """Create a contact and attach it to the application in one go (how owners add contacts)."""
    with transaction.atomic():
        application = get_application(application_name)
        _require_manage_application(user, application)
        contact = _new_contact(data)
        _record(user, contact, ContactAction.CREATED, application=application, changes=_snapshot(contact))
        return _link(user, application, contact, role, patching_emails)


def _locked_link(application: Application, contact_id: int) -> ApplicationContact:
    link = (
        ApplicationContact.objects.select_for_update(of=("self",))
        .select_related("contact", "application")
        .filter(application=application, contact_id=contact_id)
        .first()
    )
    if link is None:
        raise NotFound(f"Contact {contact_id} is not linked to application {application.name!r}.")
    return link


def update_link(
    user,
    application_name: str,
    contact_id: int,
    *,
    role: str | None = None,
    patching_emails: bool | None = None,
) -> ApplicationContact:
    with transaction.atomic():
        application = get_application(application_name)
        _require_manage_application(user, application)
        link = _locked_link(application, contact_id)
        diff: dict[str, list[Any]] = {}
        if role is not None and _role(role) != link.role:
            diff["role"] = [link.role, _role(role).value]
            link.role = _role(role)
        if patching_emails is not None and patching_emails != link.patching_emails:
            diff["patching_emails"] = [link.patching_emails, patching_emails]
            link.patching_emails = patching_emails
        if diff:
            link.save()
            _record(user, link.contact, ContactAction.LINK_UPDATED, application=application, changes=diff)
    return link


def unlink_contact(user, application_name: str, contact_id: int) -> None:
    """Detach a contact from an application; the contact itself and past emails stay."""
    with transaction.atomic():
        application = get_application(application_name)
        _require_manage_application(user, application)
        link = _locked_link(application, contact_id)
        _record(
            user,
            link.contact,
            ContactAction.UNLINKED,
            application=application,
            changes={"role": link.role, "patching_emails": link.patching_emails},
        )
        link.delete()


# --- patching emails: queueing ---------------------------------------------------------------

_SUBJECTS = {
    NotificationEvent.PATCH_STARTED: "Patching started",
    NotificationEvent.PATCH_SERVER_FAILED: "Patching FAILED on {failed_server}",
    NotificationEvent.PATCH_FINISHED: "Patching {run_status}",
}


def _subject(event: PatchEvent, application: Application) -> str:
    what = _SUBJECTS[event.event].format(failed_server=event.failed_server, run_status=event.run_status)
    dbms = DbmsType(event.dbms_type).label if event.dbms_type in DbmsType.values else event.dbms_type
    return (
        f"[RocketDBaaS] {what}: {application.name} — {dbms} {event.patch_type} {event.patch_version} "
        f"(run #{event.run_id})"
    )[:300]


def render_patch_email(event: PatchEvent, application: Application, servers) -> tuple[str, str, str]:
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


def enqueue_delivery(run_after: datetime | None = None) -> None:
    from rocketdbaas.contacts.tasks import deliver_notifications

    task = deliver_notifications
    if run_after is not None:
        if not task.get_backend().supports_defer:
            # This backend cannot run a task later; the periodic sweep retries instead.
            return
        task = task.using(run_after=run_after)
    task.enqueue()


# --- patching emails: sending ----------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0


def _retry_delay(attempts: int) -> timedelta:
    base = float(getattr(settings, "CONTACTS_EMAIL_RETRY_BASE_SECONDS", 30))
    cap = float(getattr(settings, "CONTACTS_EMAIL_RETRY_MAX_SECONDS", 3600))
    return timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))


def _release_stale_claims(now: datetime) -> None:
    """A worker that died while sending leaves rows claimed; after the lease they are tried again.

    This is the one case where a message could go out twice (the server took it, the worker died
    before recording it); its stable Message-ID lets mail systems drop the duplicate.
    """
    lease = timedelta(seconds=getattr(settings, "CONTACTS_EMAIL_CLAIM_LEASE_SECONDS", 600))
    released = NotificationLog.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - lease
    ).update(status=NotificationStatus.PENDING, claimed_at=None, next_attempt_at=now)
    if released:
        logger.warning("Released %d notifications whose sending worker stopped", released)


def _claim_due(limit: int) -> list[NotificationLog]:
    """Take due messages for this worker only: a status change under row locks, before any sending."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            NotificationLog.objects.select_for_update(skip_locked=True)
            .filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        NotificationLog.objects.filter(pk__in=ids, status=NotificationStatus.PENDING).update(
            status=NotificationStatus.SENDING, claimed_at=now
        )
    return list(NotificationLog.objects.filter(pk__in=ids).order_by("next_attempt_at", "id"))


def _message(row: NotificationLog, mail_connection) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[f"{row.recipient_name} <{row.recipient_email}>" if row.recipient_name else row.recipient_email],
        connection=mail_connection,
        headers={"Message-ID": row.message_id, "X-RocketDBaaS-Event": row.event_key},
    )
    if row.body_html:
        message.attach_alternative(row.body_html, "text/html")
    return message


def _is_permanent(exc: Exception) -> bool:
    """5xx answers mean the server will never take this message; anything else may pass later."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def _mark_sent(row: NotificationLog) -> None:
    NotificationLog.objects.filter(pk=row.pk, status=NotificationStatus.SENDING).update(
        status=NotificationStatus.SENT,
        attempts=row.attempts + 1,
        sent_at=timezone.now(),
        last_error="",
        claimed_at=None,
    )
    logger.info("Sent notification %s (%s) to %s", row.pk, row.event_key, row.recipient_email)


def _mark_failed(row: NotificationLog, exc: Exception, *, permanent: bool) -> datetime | None:
    attempts = row.attempts + 1
    error = f"{type(exc).__name__}: {exc}"[:2000]
    fields: dict[str, Any] = {"attempts": attempts, "last_error": error, "claimed_at": None}
    if permanent:
        fields["status"] = NotificationStatus.FAILED
        next_at = None
        logger.error("Notification %s to %s refused for good: %s", row.pk, row.recipient_email, error)
    else:
        next_at = timezone.now() + _retry_delay(attempts)
        fields.update(status=NotificationStatus.PENDING, next_attempt_at=next_at)
        logger.warning(
            "Notification %s to %s not sent (attempt %d), retrying at %s: %s",
            row.pk,
            row.recipient_email,
            attempts,
            next_at.isoformat(),
            error,
        )
    NotificationLog.objects.filter(pk=row.pk, status=NotificationStatus.SENDING).update(**fields)
    return next_at


def _send_batch(rows: list[NotificationLog], report: DeliveryReport) -> datetime | None:
    """Send claimed rows over one connection. Returns when to retry if the server could not be reached."""
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 30
    mail_connection = get_connection(fail_silently=False, timeout=timeout)
    pending = list(rows)
    try:
        mail_connection.open()
        while pending:
            row = pending[0]
            try:
                _message(row, mail_connection).send()
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                # The server answered about this message; the connection is still good for the next.
                permanent = _is_permanent(exc)
                _mark_failed(row, exc, permanent=permanent)
                if permanent:
                    report.failed += 1
                else:
                    report.retrying += 1
            except OSError:
                raise  # socket or SMTP session trouble (SMTPException is an OSError): the batch stops here
            except Exception as exc:
                # Something wrong with this one message; retry it later, keep sending the others.
                _mark_failed(row, exc, permanent=False)
                report.retrying += 1
            else:
                _mark_sent(row)
                report.sent += 1
            pending.pop(0)
    except Exception as exc:
        retry_at = None
        for row in pending:
            retry_at = _mark_failed(row, exc, permanent=False)
            report.retrying += 1
        return retry_at
    finally:
        try:
            mail_connection.close()
        except Exception:
            logger.debug("Closing the mail connection failed", exc_info=True)
    return None


def deliver_due_notifications(batch_size: int = 50) -> DeliveryReport:
    """Send every due message once; failures wait with exponential backoff, then go again.

    Safe to run in any number of workers at once: each message is claimed by exactly one.
    """
    report = DeliveryReport()
    _release_stale_claims(timezone.now())
    unreachable_until = None
    attempted = False
    while batch := _claim_due(batch_size):
        attempted = True
        unreachable_until = _send_batch(batch, report)
        if unreachable_until is not None:
            break  # the server is down; the others wait for the next run instead of failing one by one
    if attempted:
        _schedule_next_delivery(unreachable_until)
    return report


def _schedule_next_delivery(not_before: datetime | None) -> None:
    earliest = NotificationLog.objects.filter(status=NotificationStatus.PENDING).aggregate(
        at=Min("next_attempt_at")
    )["at"]
    if earliest is None:
        return
    enqueue_delivery(run_after=max(earliest, not_before) if not_before else earliest)
