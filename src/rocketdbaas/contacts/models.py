"""Contacts of applications, their links, the outbox of emails sent to them, and their change log.

Nothing here is deleted: contacts expire, notifications stay as the record of what was sent.
"""

from datetime import datetime

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from rocketdbaas.accounts.scoping import VisibleQuerySet
from rocketdbaas.core.config import config

phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ().\-/]{2,38}(\s*(x|ext\.?)\s*[0-9]{1,6})?$",
    "Enter a phone number: digits, spaces, ( ) . - /, an optional leading + and extension.",
)


class ContactRole(models.TextChoices):
    OWNER = "owner", "Owner"
    TECHNICAL = "technical", "Technical"
    NOTIFY = "notify", "Notify only"


class ContactStatus(models.TextChoices):
    """List filters: `active` is everything not yet expired (including contacts valid from a later date)."""

    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    ALL = "all", "All"


class ContactQuerySet(VisibleQuerySet):
    application_path = "links__application"

    def not_expired(self, at: datetime | None = None):
        at = at or timezone.now()
        return self.filter(models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=at))

    def expired(self, at: datetime | None = None):
        return self.filter(valid_to__lte=at or timezone.now())

    def reachable(self, at: datetime | None = None):
        """Contacts who receive emails now: already valid and not expired."""
        at = at or timezone.now()
        return self.not_expired(at).filter(valid_from__lte=at)

    def with_status(self, status: ContactStatus):
        if status == ContactStatus.EXPIRED:
            return self.expired()
        if status == ContactStatus.ACTIVE:
            return self.not_expired()
        return self


class Contact(models.Model):
    """A person or mailbox to tell about an application's databases."""

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, help_text="Stored in lower case")
    phone = models.CharField(max_length=50, blank=True, validators=[phone_validator])
    team = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True, help_text="Expired from this moment on")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["email"]), models.Index(fields=["valid_to"])]
        constraints = [
            # The database cannot compare with "now" in an index, so it enforces uniqueness only
            # among open-ended contacts; services check contacts with a future end date too.
            models.UniqueConstraint(
                Lower("email"),
                condition=models.Q(valid_to__isnull=True),
                name="contact_email_unique_open_ended",
                violation_error_message="Another active contact already has this email.",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
                name="contact_valid_to_not_before_valid_from",
                violation_error_message="validTo must not be before validFrom.",
            ),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"

    def is_expired(self, at: datetime | None = None) -> bool:
        return self.valid_to is not None and self.valid_to <= (at or timezone.now())

    def is_active(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.valid_from <= at and not self.is_expired(at)


class ApplicationContactQuerySet(VisibleQuerySet):
    application_path = "application"


class ApplicationContact(models.Model):
    """A contact's role for one application, and whether they get patching emails about it."""

    application = models.ForeignKey(
        "inventory.Application", on_delete=models.CASCADE, related_name="contact_links"
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="links")
    role = models.CharField(max_length=16, choices=ContactRole.choices, default=ContactRole.NOTIFY)
    patching_emails = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ApplicationContactQuerySet.as_manager()

    class Meta:
        ordering = ["application__name", "contact__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "contact"], name="application_contact_once"),
        ]

    def __str__(self):
        return f"{self.contact} → {self.application} ({self.role})"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its first or next attempt
    SENDING = "sending", "Sending"  # claimed by one worker, which is talking to the mail server
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # the mail server refused it for good; not retried


class NotificationEvent(models.TextChoices):
    PATCH_STARTED = "patch_started", "Patch run started"
    PATCH_SERVER_FAILED = "patch_server_failed", "Server failed during a patch run"
    PATCH_FINISHED = "patch_finished", "Patch run finished"


class NotificationLogQuerySet(VisibleQuerySet):
    application_path = "application"


class NotificationLog(models.Model):
    """One email to one recipient about one event of one application: the outbox and its history.

    Unique per (event, application, recipient), so announcing the same event again sends nothing new.
    """

    event_key = models.CharField(max_length=200)
    event = models.CharField(max_length=32, choices=NotificationEvent.choices)
    application = models.ForeignKey(
        "inventory.Application", on_delete=models.PROTECT, related_name="notifications"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    recipient_email = models.EmailField(max_length=254)
    recipient_name = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NotificationLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["application", "created_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event_key", "application", "recipient_email"], name="notification_once_per_recipient"
            ),
        ]

    def __str__(self):
        return f"{self.subject} → {self.recipient_email} ({self.status})"

    @property
    def message_id(self) -> str:
        """Stable per row, so a mail system can spot the one duplicate a crashed worker might cause."""
        domain = config.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "rocketdbaas"
        return f"<rocketdbaas-notification-{self.pk}@{domain}>"


class ContactAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    EXPIRED = "expired", "Expired"
    REACTIVATED = "reactivated", "Reactivated"
    LINKED = "linked", "Linked to an application"
    LINK_UPDATED = "link_updated", "Link updated"
    UNLINKED = "unlinked", "Unlinked from an application"


class ContactChangeQuerySet(VisibleQuerySet):
    application_path = "application"


class ContactChange(models.Model):
    """Append-only record of every change to contacts and their links: who, when, what, request id."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="changes")
    application = models.ForeignKey(
        "inventory.Application", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16, choices=ContactAction.choices)
    changes = models.JSONField(default=dict, blank=True, help_text="field: [before, after]")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ContactChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.contact_id}"
