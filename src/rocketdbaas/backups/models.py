from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from rocketdbaas.accounts.scoping import VisibleQuerySet
from rocketdbaas.dbms import DbmsType


class BackupType(models.TextChoices):
    FULL = "full", "Full"
    DIFFERENTIAL = "differential", "Differential"
    INCREMENTAL = "incremental", "Incremental"
    LOGICAL = "logical", "Logical dump"
    SNAPSHOT = "snapshot", "Snapshot"


# Backups that restore on their own and so start a chain; the others depend on one.
CHAIN_ROOT_TYPES = frozenset({BackupType.FULL, BackupType.LOGICAL, BackupType.SNAPSHOT})
# What each dependent type may be based on (pgBackRest: a diff on a full, an incr on anything).
ALLOWED_PARENT_TYPES = {
    BackupType.DIFFERENTIAL: frozenset({BackupType.FULL}),
    BackupType.INCREMENTAL: frozenset({BackupType.FULL, BackupType.DIFFERENTIAL, BackupType.INCREMENTAL}),
}


class BackupStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class BackupQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class Backup(models.Model):
    """One backup as its tool reported it. Expiry is a mark (expired_at), never a deletion, so the
    status history stays as it was."""

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.PROTECT, related_name="backups")
    server = models.ForeignKey(
        "inventory.Server", null=True, blank=True, on_delete=models.PROTECT, related_name="backups"
    )
    label = models.CharField(max_length=200, help_text="The tool's own id, e.g. 20261101-010000F")
    repository = models.CharField(max_length=200, default="default", help_text="e.g. repo1, s3://bucket/path")
    tool = models.CharField(max_length=50, blank=True, help_text="pgbackrest, pbm, pg_dump, …")
    backup_type = models.CharField(max_length=16, choices=BackupType.choices)
    status = models.CharField(max_length=16, choices=BackupStatus.choices, default=BackupStatus.RUNNING)
    db_size_gigs = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0)])
    bkup_size_gigs = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0)])
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)
    depends_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="dependents"
    )
    pinned = models.BooleanField(default=False)
    expired_at = models.DateTimeField(null=True, blank=True)
    expire_reason = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="Tool-specific facts (WAL range, LSNs, …)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BackupQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "repository", "label"], name="backup_label_unique"),
            models.CheckConstraint(
                condition=models.Q(db_size_gigs__isnull=True) | models.Q(db_size_gigs__gte=0),
                name="backup_db_size_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(bkup_size_gigs__isnull=True) | models.Q(bkup_size_gigs__gte=0),
                name="backup_size_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(stopped_at__isnull=True)
                | models.Q(stopped_at__gte=models.F("started_at")),
                name="backup_stops_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["cluster", "repository", "started_at"]),
            models.Index(fields=["dbms_type", "expired_at", "cluster"]),
            models.Index(fields=["dbms_type", "started_at"]),
        ]

    def __str__(self):
        return f"{self.cluster_id}/{self.repository}/{self.label}"

    @property
    def expired(self) -> bool:
        return self.expired_at is not None


class RetentionPolicy(models.Model):
    """How long backups are kept: for one cluster, or (cluster empty) the default of a DBMS type.

    Exactly one of keep_fulls and recovery_window_days is set.
    """

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    cluster = models.OneToOneField(
        "inventory.Cluster", null=True, blank=True, on_delete=models.CASCADE, related_name="retention_policy"
    )
    keep_fulls = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    recovery_window_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    min_fulls = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    failed_keep_days = models.PositiveIntegerField(default=30)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "retention policies"
        constraints = [
            models.UniqueConstraint(
                fields=["dbms_type"],
                condition=models.Q(cluster__isnull=True),
                name="one_default_policy_per_type",
            ),
            models.CheckConstraint(
                condition=(models.Q(keep_fulls__isnull=False) & models.Q(recovery_window_days__isnull=True))
                | (models.Q(keep_fulls__isnull=True) & models.Q(recovery_window_days__isnull=False)),
                name="policy_keeps_fulls_or_a_window",
            ),
            models.CheckConstraint(
                condition=models.Q(min_fulls__gte=1), name="policy_min_fulls_at_least_one"
            ),
        ]

    def __str__(self):
        scope = self.cluster.name if self.cluster is not None else f"default for {self.dbms_type}"
        rule = (
            f"keep {self.keep_fulls} fulls" if self.keep_fulls else f"{self.recovery_window_days}-day window"
        )
        return f"{scope}: {rule}"
