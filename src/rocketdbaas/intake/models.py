"""Requests for new databases, filed through the intake form or /api/intake, and their history."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from rocketdbaas.accounts.scoping import VisibleQuerySet
from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory.models import Environment

MAX_SERVERS = 9  # the largest HA topology the DBA team builds from the pool in one go


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    FULFILLED = "fulfilled", "Fulfilled"
    REJECTED = "rejected", "Rejected"


# Which status a request may move to from each status (comments never change it).
TRANSITIONS: dict[str, frozenset[str]] = {
    RequestStatus.SUBMITTED: frozenset(
        {RequestStatus.APPROVED, RequestStatus.FULFILLED, RequestStatus.REJECTED}
    ),
    RequestStatus.APPROVED: frozenset({RequestStatus.FULFILLED, RequestStatus.REJECTED}),
    RequestStatus.FULFILLED: frozenset(),
    RequestStatus.REJECTED: frozenset(),
}
OPEN_STATUSES = (RequestStatus.SUBMITTED, RequestStatus.APPROVED)


class BackupPolicy(models.TextChoices):
    STANDARD = "standard", "Standard: daily full, kept 14 days"
    EXTENDED = "extended", "Extended: daily full kept 35 days, monthly kept 1 year"
    NONE = "none", "None (not allowed in production)"


class ReferenceCounter(models.Model):
    """The last reference number given out in a year; its row is locked while taking the next."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"


class IntakeRequestQuerySet(VisibleQuerySet):
    application_path = "application"
    own_path = "submitted_by"


class IntakeRequest(models.Model):
    reference = models.CharField(max_length=20, unique=True, editable=False)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.SUBMITTED, db_index=True
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="intake_requests"
    )
    requester_name = models.CharField(max_length=150)
    requester_email = models.EmailField()
    application = models.ForeignKey(
        "inventory.Application",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="intake_requests",
        help_text="An existing application; empty when a new one is requested",
    )
    new_application_name = models.CharField(max_length=100, blank=True)
    contacts = models.JSONField(
        default=list, blank=True, help_text='People to tell about the database: [{"name": ..., "email": ...}]'
    )
    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    environment = models.CharField(max_length=16, choices=Environment.choices)
    number_of_servers = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_SERVERS)]
    )
    cpu = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(4096)])
    ram = models.PositiveIntegerField(help_text="GB per server", validators=[MinValueValidator(1)])
    db_gigs = models.PositiveIntegerField(
        help_text="GB of database disk per server", validators=[MinValueValidator(1)]
    )
    expected_size_gigs = models.PositiveIntegerField(help_text="Expected database size (GB) at go-live")
    growth_gigs_per_month = models.PositiveIntegerField(default=0, help_text="Expected growth (GB per month)")
    backup_policy = models.CharField(
        max_length=16, choices=BackupPolicy.choices, default=BackupPolicy.STANDARD
    )
    cost_centre = models.CharField(max_length=50)
    needed_by = models.DateField()
    notes = models.TextField(blank=True)
    cluster = models.ForeignKey(
        "inventory.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="intake_requests"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IntakeRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                # A new application's name is kept after fulfilment, when `application` is set too.
                condition=models.Q(application__isnull=False) | ~models.Q(new_application_name=""),
                name="intake_names_an_application",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="fulfilled") | models.Q(cluster__isnull=False),
                name="intake_fulfilled_has_cluster",
            ),
        ]

    def __str__(self):
        return self.reference

    @property
    def application_name(self) -> str:
        return (
            self.application.name if self.application_id and self.application else self.new_application_name
        )

    @property
    def is_new_application(self) -> bool:
        return bool(self.new_application_name)


class RequestEvent(models.Model):
    """One line of a request's history: a status change, a comment, or both. Append-only."""

    intake = models.ForeignKey(IntakeRequest, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=RequestStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=RequestStatus.choices, blank=True)
    comment = models.TextField(blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.intake.reference}: {self.from_status or '-'} → {self.to_status or '-'}"
