"""Contacts, their links to applications, and who may see or change them.

Every change runs in one transaction with its ContactChange row. The patching emails they get
are in notifications.py.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from pydantic.alias_generators import to_camel

from rocketdbaas.accounts.roles import is_fleet_operator, is_owner
from rocketdbaas.accounts.scoping import visible_application_ids
from rocketdbaas.contacts.models import (
    ApplicationContact,
    Contact,
    ContactAction,
    ContactChange,
    ContactQuerySet,
    ContactRole,
    ContactStatus,
    NotificationLog,
    NotificationStatus,
)
from rocketdbaas.core.errors import Conflict, Forbidden, Invalid, NotFound
from rocketdbaas.core.middleware import current_request_id
from rocketdbaas.inventory.models import Application

CONTACT_FIELDS = ("name", "email", "phone", "team", "notes", "valid_from", "valid_to")


# --- who may do what -------------------------------------------------------------------------


def managed_application_ids(user) -> set[int] | None:
    """The applications whose contacts the user manages: None means all (dba, admin); owners
    manage their own; viewers none."""
    if is_fleet_operator(user):
        return None
    if not is_owner(user):
        return set()
    return set(visible_application_ids(user) or ())


def manageable_applications(user) -> QuerySet[Application]:
    ids = managed_application_ids(user)
    return Application.objects.all() if ids is None else Application.objects.filter(pk__in=ids)


def can_manage_application(user, application: Application) -> bool:
    ids = managed_application_ids(user)
    return ids is None or application.pk in ids


def _require_manage_application(user, application: Application) -> None:
    if not can_manage_application(user, application):
        raise Forbidden(f"You may not change the contacts of application {application.name!r}.")


def manageable_contact_ids(user, contacts) -> set[int]:
    """Which of these contacts (links prefetched) the user may change: owners only those that
    serve nothing but their own applications."""
    ids = managed_application_ids(user)
    pks = [contact.pk for contact in contacts]
    if ids is None:
        return set(pks)
    # From the table, not the prefetched links: those hold only the links the user may see.
    links = ApplicationContact.objects.filter(contact_id__in=pks)
    linked = set(links.values_list("contact_id", flat=True))
    return linked - set(links.exclude(application_id__in=ids).values_list("contact_id", flat=True))


def can_manage_contact(user, contact: Contact) -> bool:
    return contact.pk in manageable_contact_ids(user, [contact])


def _require_manage_contact(user, contact: Contact) -> None:
    if not can_manage_contact(user, contact):
        raise Forbidden("You may only change contacts that serve nothing but your own applications.")


# --- reading ---------------------------------------------------------------------------------


def get_application(name: str, user) -> Application:
    """The application, if the user may see it: a foreign one is as unknown as a missing one."""
    application = Application.objects.visible_to(user).filter(name=name).first()
    if application is None:
        raise NotFound(f"Unknown application {name!r}.")
    return application


def _visible_links(user, lookup: str = "links") -> Prefetch:
    """A contact's links as far as the user may see them: another team's applications stay hidden."""
    return Prefetch(
        lookup, queryset=ApplicationContact.objects.visible_to(user).select_related("application")
    )


def visible_contacts(user) -> ContactQuerySet:
    return Contact.objects.visible_to(user).prefetch_related(_visible_links(user))


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
        contacts = contacts.filter(links__application=get_application(application, user))
    return contacts.order_by("name", "id")


def get_contact(user, contact_id: int) -> Contact:
    contact = visible_contacts(user).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(f"Unknown contact {contact_id}.")
    return contact


def application_links(
    user, application: Application, status: ContactStatus = ContactStatus.ACTIVE
) -> QuerySet[ApplicationContact]:
    return (
        ApplicationContact.objects.visible_to(user)
        .filter(application=application)
        .filter(contact__in=Contact.objects.with_status(status))
        .select_related("contact", "application")
        .prefetch_related(_visible_links(user, "contact__links"))
        .order_by("contact__name", "id")
    )


def get_link(user, application_name: str, contact_id: int) -> ApplicationContact:
    application = get_application(application_name, user)
    link = application_links(user, application, ContactStatus.ALL).filter(contact_id=contact_id).first()
    if link is None:
        raise NotFound(f"Contact {contact_id} is not linked to application {application.name!r}.")
    return link


def list_notifications(
    user, *, application: str | None = None, status: NotificationStatus | None = None
) -> QuerySet[NotificationLog]:
    notifications = NotificationLog.objects.visible_to(user).select_related("application")
    if application:
        notifications = notifications.filter(application=get_application(application, user))
    if status:
        notifications = notifications.filter(status=status)
    return notifications.order_by("-created_at", "-id")


def get_notification(user, notification_id: int) -> NotificationLog:
    notification = (
        NotificationLog.objects.visible_to(user)
        .select_related("application")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None:
        raise NotFound(f"Unknown notification {notification_id}.")
    return notification


def reachable_links(application_id: int) -> QuerySet[ApplicationContact]:
    """An application's current contacts (with their Contact), as a cluster shows them."""
    return (
        ApplicationContact.objects.filter(application_id=application_id)
        .filter(contact__in=Contact.objects.reachable())
        .select_related("contact")
        .order_by("contact__name", "id")
    )


@dataclass
class ClusterContacts:
    application: Application
    links: list[ApplicationContact]


def cluster_contacts(cluster) -> ClusterContacts:
    """The cluster's application and its current contacts (one query)."""
    return ClusterContacts(cluster.application, list(reachable_links(cluster.application_id)))


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
    if end_changed and contact.valid_to is not None and contact.valid_to <= timezone.now():
        errors.append(
            {"field": "validTo", "message": "validTo must be in the future; expire the contact instead."}
        )
    elif contact.valid_to is not None and contact.valid_from and contact.valid_to <= contact.valid_from:
        errors.append({"field": "validTo", "message": "validTo must be after validFrom."})
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


def _locked_contact(contact_id: int, user=None) -> Contact:
    """The contact, locked; with `user`, only one that user may see (attaching by id looks fleet-wide)."""
    contact = (
        Contact.objects.visible_to(user)
        .select_for_update(of=("self",))
        .prefetch_related("links")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise NotFound(f"Unknown contact {contact_id}.")
    return contact


def update_contact(user, contact_id: int, changes: dict[str, Any]) -> Contact:
    with transaction.atomic():
        contact = _locked_contact(contact_id, user)
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
        contact = _locked_contact(contact_id, user)
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
        contact = _locked_contact(contact_id, user)
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
        application = get_application(application_name, user)
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
        application = get_application(application_name, user)
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
        application = get_application(application_name, user)
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
        application = get_application(application_name, user)
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
