"""What the collector and the push API record: runs, per-server results, size and version
time series, the current databases of each cluster, and the credentials used to connect.

Sizes are stored in bytes; the API speaks GiB (`sizeGigs` = bytes / 1024**3).
Raw size samples are kept TELEMETRY_RAW_RETENTION_DAYS (30) days; before they are deleted
the retention job folds them into DailySize, which is kept forever. A given
(cluster, server, database, day) is in one of the two tables, never both.
"""

from django.conf import settings
from django.db import models

from rocketdbaas.accounts.scoping import VisibleQuerySet
from rocketdbaas.dbms import DbmsType


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    API = "api", "API"
    CLI = "cli", "Command line"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class Outcome(models.TextChoices):
    OK = "ok", "OK"
    UNREACHABLE = "unreachable", "Unreachable"
    AUTH_FAILED = "auth_failed", "Authentication failed"
    TIMEOUT = "timeout", "Timed out"
    ERROR = "error", "Error"


class SampleSource(models.TextChoices):
    COLLECTED = "collected", "Collected"
    PUSHED = "pushed", "Pushed"


class SecretSource(models.TextChoices):
    NONE = "none", "No password"
    STORED = "stored", "Stored encrypted"
    ENV = "env", "Environment variable"
    FILE = "file", "Secret file"


class CollectionRunQuerySet(VisibleQuerySet):
    # Fleet-wide runs have no cluster, so only fleet readers see them.
    application_path = "cluster__application"


class CollectionRun(models.Model):
    """One pass of the collector over the servers in its scope."""

    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Scope: blank dbms_type means every type; a null cluster means every active cluster.
    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices, blank=True)
    cluster = models.ForeignKey(
        "inventory.Cluster", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    include_pool = models.BooleanField(default=False)
    servers_total = models.PositiveIntegerField(default=0)
    servers_ok = models.PositiveIntegerField(default=0)
    servers_failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the run itself failed (not a server's error)")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = CollectionRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"collection #{self.pk} ({self.status})"


class CollectionResultQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class CollectionResult(models.Model):
    """What one server answered in one run: ok with its state, or why it could not be read."""

    run = models.ForeignKey(CollectionRun, on_delete=models.CASCADE, related_name="results")
    server = models.ForeignKey("inventory.Server", on_delete=models.CASCADE, related_name="+")
    cluster = models.ForeignKey(
        "inventory.Cluster", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.CharField(max_length=500, blank=True)
    role = models.CharField(max_length=16, blank=True)
    version = models.CharField(max_length=100, blank=True)
    version_num = models.PositiveIntegerField(null=True, blank=True)
    database_count = models.PositiveIntegerField(null=True, blank=True)
    total_bytes = models.BigIntegerField(null=True, blank=True)
    # Replication state where the server shows it (PostgreSQL: lag, upstream, replicas).
    details = models.JSONField(default=dict, blank=True)
    collected_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)

    objects = CollectionResultQuerySet.as_manager()

    class Meta:
        ordering = ["run", "server__name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "server"], name="telemetry_result_once_per_run")
        ]
        indexes = [
            models.Index(fields=["server", "outcome", "collected_at"]),
            models.Index(fields=["cluster", "outcome", "collected_at"]),
        ]

    def __str__(self):
        return f"{self.server_id} in run {self.run_id}: {self.outcome}"


class SizeSampleQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class SizeSample(models.Model):
    """A database's size on one server at one moment (raw; kept for the recent window)."""

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.PROTECT, related_name="+")
    server = models.ForeignKey("inventory.Server", on_delete=models.PROTECT, related_name="+")
    database = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    sampled_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=SampleSource.choices)

    objects = SizeSampleQuerySet.as_manager()

    class Meta:
        ordering = ["sampled_at", "id"]
        indexes = [
            models.Index(fields=["cluster", "sampled_at"]),
            models.Index(fields=["sampled_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(size_bytes__gte=0), name="size_not_negative")
        ]

    def __str__(self):
        return f"{self.database}@{self.server_id} {self.size_bytes}B at {self.sampled_at:%Y-%m-%d %H:%M}"


class DailySizeQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class DailySize(models.Model):
    """One day of a database's size on one server, rolled up from raw samples; kept forever."""

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.PROTECT, related_name="+")
    server = models.ForeignKey("inventory.Server", on_delete=models.PROTECT, related_name="+")
    database = models.CharField(max_length=255)
    day = models.DateField()
    max_bytes = models.BigIntegerField()
    avg_bytes = models.BigIntegerField()
    samples = models.PositiveIntegerField()

    objects = DailySizeQuerySet.as_manager()

    class Meta:
        ordering = ["day", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "server", "database", "day"], name="telemetry_daily_size_unique"
            ),
        ]
        indexes = [models.Index(fields=["cluster", "day"]), models.Index(fields=["dbms_type", "day"])]

    def __str__(self):
        return f"{self.database}@{self.server_id} {self.day}: max {self.max_bytes}B"


class VersionSampleQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class VersionSample(models.Model):
    """A server's version and role as observed: every pushed report, and each collected change."""

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    server = models.ForeignKey("inventory.Server", on_delete=models.PROTECT, related_name="+")
    cluster = models.ForeignKey(
        "inventory.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    version = models.CharField(max_length=100)
    version_num = models.PositiveIntegerField(null=True, blank=True)
    role = models.CharField(max_length=16, blank=True)
    sampled_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=SampleSource.choices)

    objects = VersionSampleQuerySet.as_manager()

    class Meta:
        ordering = ["sampled_at", "id"]
        indexes = [
            models.Index(fields=["server", "sampled_at"]),
            models.Index(fields=["dbms_type", "sampled_at"]),
        ]

    def __str__(self):
        return f"{self.server_id} {self.version} {self.role} at {self.sampled_at:%Y-%m-%d %H:%M}"


class DatabaseInfoQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class DatabaseInfo(models.Model):
    """A database that exists in a cluster now, with its latest size."""

    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.CASCADE, related_name="databases")
    name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    reported_by = models.ForeignKey(
        "inventory.Server", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, choices=SampleSource.choices)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    objects = DatabaseInfoQuerySet.as_manager()

    class Meta:
        ordering = ["cluster", "name"]
        verbose_name = "database"
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="telemetry_database_unique")]

    def __str__(self):
        return f"{self.cluster_id}/{self.name}"


class DbCredential(models.Model):
    """How the collector logs in: for a whole dbmsType (cluster empty) or for one cluster.

    The password is either stored encrypted (Fernet, see credentials.py) or referenced by the
    name of an environment variable or the path of a secret file. It is never shown back.
    """

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    cluster = models.ForeignKey(
        "inventory.Cluster", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    username = models.CharField(max_length=128, blank=True)
    secret_source = models.CharField(max_length=8, choices=SecretSource.choices, default=SecretSource.NONE)
    encrypted_password = models.TextField(blank=True, editable=False)
    secret_ref = models.CharField(
        max_length=500, blank=True, help_text="Environment variable name or secret file path"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dbms_type", "cluster__name"]
        verbose_name = "database credential"
        constraints = [
            models.UniqueConstraint(
                fields=["dbms_type"],
                condition=models.Q(cluster__isnull=True),
                name="telemetry_one_default_credential_per_type",
            ),
            models.UniqueConstraint(fields=["cluster"], name="telemetry_one_credential_per_cluster"),
        ]

    def __str__(self):
        scope = self.cluster.name if self.cluster is not None else f"all {self.dbms_type}"
        return f"{self.username or '(default user)'} for {scope}"

    @property
    def has_password(self) -> bool:
        if self.secret_source == SecretSource.STORED:
            return bool(self.encrypted_password)
        return self.secret_source in (SecretSource.ENV, SecretSource.FILE) and bool(self.secret_ref)
