"""Rolling patching: recipes, per-cluster patch settings, runs, and the per-server ledger.

The database is the source of truth for a run: every run and step carries its state, the worker
that owns it and a heartbeat lease, so a run survives its worker being killed (see orchestrator).
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from rocketdbaas.accounts.scoping import VisibleQuerySet
from rocketdbaas.dbms import DbmsType


class PatchType(models.TextChoices):
    DB = "DB", "Database software"
    OS = "OS", "Operating system"


class ExecutorKind(models.TextChoices):
    LOCAL = "local", "Local shell (development and tests)"
    SSH = "ssh", "SSH (key auth, verified host keys)"
    ANSIBLE = "ansible", "Ansible playbook (ansible-runner)"


class PrimaryStrategy(models.TextChoices):
    """What happens before the primary is patched."""

    DEFAULT = "", "The DBMS type's default (PostgreSQL: in place, MongoDB: switchover)"
    IN_PLACE = "in_place", "Restart in place (short write outage)"
    SWITCHOVER = "switchover", "Switch over first (PostgreSQL: command or Patroni; MongoDB: replSetStepDown)"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PRECHECKING = "prechecking", "Pre-checking"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    INTERRUPTED = "interrupted", "Interrupted (worker lost; being resumed)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_RUN_STATUSES = frozenset(
    {RunStatus.PENDING, RunStatus.PRECHECKING, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.INTERRUPTED}
)
# A worker may take these over (paused runs wait for resume).
CLAIMABLE_RUN_STATUSES = frozenset(
    {RunStatus.PENDING, RunStatus.PRECHECKING, RunStatus.RUNNING, RunStatus.INTERRUPTED}
)


class ClusterRunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (halted)"
    CANCELLED = "cancelled", "Cancelled"


FINAL_CLUSTER_STATUSES = frozenset(
    {ClusterRunStatus.SUCCEEDED, ClusterRunStatus.FAILED, ClusterRunStatus.CANCELLED}
)


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PRECHECKING = "prechecking", "Pre-checking"
    SWITCHOVER = "switchover", "Switching over"
    PATCHING = "patching", "Patching"
    VERIFYING = "verifying", "Verifying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


IN_FLIGHT_STEP_STATUSES = frozenset(
    {StepStatus.PRECHECKING, StepStatus.SWITCHOVER, StepStatus.PATCHING, StepStatus.VERIFYING}
)


class StepOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


# Versions end up inside shell commands; this keeps them to characters no shell interprets.
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:~-]{0,99}$")
version_validator = RegexValidator(
    VERSION_RE, "Use letters, digits and . _ + : ~ - (starting with a letter or digit), at most 100."
)
name_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", "Use letters, digits, '.', '_', '-'.")


class PatchRecipe(models.Model):
    """How to patch one server of a DBMS type, for one patch type.

    Commands are templates: {server}, {host}, {port}, {version}, {cluster}, {role}, {patch_type},
    {dbms_type}, {ssh_port} and any variable from the recipe, the cluster's patch settings or the
    server's own variables (e.g. {datadir}).
    """

    name = models.CharField(max_length=100, validators=[name_validator])
    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    patch_type = models.CharField(max_length=2, choices=PatchType.choices)
    executor = models.CharField(max_length=16, choices=ExecutorKind.choices, default=ExecutorKind.SSH)
    command = models.TextField(
        help_text="Shell command that patches the server (ansible: the playbook path, relative to "
        "PATCH_ANSIBLE_PROJECT_DIR or absolute)"
    )
    pre_command = models.TextField(blank=True, help_text="Runs on the server before the command")
    post_command = models.TextField(blank=True, help_text="Runs on the server after the command")
    version_command = models.TextField(
        blank=True,
        help_text="Prints the server's current version for this patch type (last line of output). "
        "Required for OS recipes; DB recipes default to the version the database reports.",
    )
    timeout_seconds = models.PositiveIntegerField(
        default=3600, validators=[MinValueValidator(1), MaxValueValidator(86400)]
    )
    verify_timeout_seconds = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(7200)],
        help_text="How long the server may take to come back healthy at the target version",
    )
    ssh_user = models.CharField(max_length=64, blank=True, help_text="Blank: PATCH_SSH_USER")
    variables = models.JSONField(default=dict, blank=True, help_text="Default values for placeholders")
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True, help_text="Inactive recipes cannot start new runs")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dbms_type", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dbms_type", "name"], name="patch_recipe_name_per_dbms_type")
        ]

    def __str__(self):
        return f"{self.name} ({self.dbms_type} {self.patch_type})"

    def clean(self):
        if self.patch_type == PatchType.OS and not self.version_command.strip():
            raise ValidationError(
                {"version_command": "OS recipes need a version command: nothing else tells the OS version."}
            )
        if not isinstance(self.variables, dict):
            raise ValidationError({"variables": "Give an object of name: value."})


class ClusterPatchSettingsQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class ClusterPatchSettings(models.Model):
    """How a cluster is patched: what to do before the primary, health limits, and variables."""

    cluster = models.OneToOneField(
        "inventory.Cluster", on_delete=models.CASCADE, related_name="patch_settings"
    )
    primary_strategy = models.CharField(
        max_length=16, choices=PrimaryStrategy.choices, blank=True, default=PrimaryStrategy.DEFAULT
    )
    switchover_command = models.TextField(
        blank=True,
        help_text="PostgreSQL: runs on the primary to hand over to {candidate} (placeholders as in "
        "recipes, plus {candidate}, {candidate_host}, {candidate_port} and candidate_<variable>)",
    )
    patroni_url = models.CharField(
        max_length=300,
        blank=True,
        help_text="PostgreSQL: Patroni REST API of the primary, e.g. http://{host}:8008 (used when no command)",
    )
    max_lag_bytes = models.PositiveBigIntegerField(
        default=16 * 1024 * 1024, help_text="PostgreSQL: a replica further behind than this is unhealthy"
    )
    max_lag_seconds = models.PositiveIntegerField(
        default=30, help_text="MongoDB: a secondary further behind than this is unhealthy"
    )
    variables = models.JSONField(default=dict, blank=True, help_text="Placeholder values for every server")
    server_variables = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per-server placeholder values: {"server-name": {"datadir": "..."}}',
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClusterPatchSettingsQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "cluster patch settings"

    def __str__(self):
        return f"patch settings of {self.cluster}"

    def clean(self):
        if not isinstance(self.variables, dict):
            raise ValidationError({"variables": "Give an object of name: value."})
        if not isinstance(self.server_variables, dict) or not all(
            isinstance(v, dict) for v in self.server_variables.values()
        ):
            raise ValidationError({"server_variables": "Give an object of server name: {name: value}."})


class TargetVersion(models.Model):
    """The version the fleet of a DBMS type should be at, per patch type (reports compare to it)."""

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    patch_type = models.CharField(max_length=2, choices=PatchType.choices)
    version = models.CharField(max_length=100, validators=[version_validator])
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dbms_type", "patch_type"]
        constraints = [
            models.UniqueConstraint(fields=["dbms_type", "patch_type"], name="one_target_version_per_type")
        ]

    def __str__(self):
        return f"{self.dbms_type} {self.patch_type} -> {self.version}"


class SshKnownHost(models.Model):
    """A trusted SSH host key, in OpenSSH known_hosts terms; the ssh executor accepts no other."""

    host = models.CharField(
        max_length=300, help_text="Host pattern as in known_hosts: db1.example.com or [10.0.0.5]:2222"
    )
    key = models.TextField(help_text="The public key: 'ssh-ed25519 AAAA…'")
    comment = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host"]
        verbose_name = "SSH known host"

    def __str__(self):
        return self.host

    @property
    def line(self) -> str:
        return f"{self.host} {self.key.strip()}"

    def clean(self):
        import asyncssh

        if any(c.isspace() for c in self.host.strip()):
            raise ValidationError({"host": "One host pattern, without spaces."})
        try:
            asyncssh.import_public_key(self.key.strip())
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise ValidationError({"key": f"Not an SSH public key: {exc}"}) from exc


class PatchRunQuerySet(VisibleQuerySet):
    application_path = "clusters__cluster__application"


class PatchRun(models.Model):
    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices, db_index=True)
    patch_type = models.CharField(max_length=2, choices=PatchType.choices)
    patch_version = models.CharField(max_length=100, validators=[version_validator])
    recipe = models.ForeignKey(PatchRecipe, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    dry_run = models.BooleanField(default=False)
    target = models.JSONField(default=dict, help_text="What was asked for: cluster(s) or a selector")
    batches = models.JSONField(default=list, help_text='The batch plan as given, e.g. [1, "25%"]')
    max_failures = models.PositiveIntegerField(default=1)
    reason = models.TextField(blank=True, help_text="Why the run failed or stopped")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Lease: the worker executing the run keeps heartbeat_at fresh; a stale one means it is gone.
    owner = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker took the run")
    pause_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    objects = PatchRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self):
        return f"patch run #{self.pk} {self.dbms_type} {self.patch_type} {self.patch_version} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class PatchRunClusterQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class PatchRunCluster(models.Model):
    """One cluster of a run: its batch, its place, and whether it is done or halted.

    `active` is true until the run is finished with the cluster; the partial unique constraint
    makes "a cluster is in at most one run at a time" a database guarantee.
    """

    run = models.ForeignKey(PatchRun, on_delete=models.CASCADE, related_name="clusters")
    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.PROTECT, related_name="patch_runs")
    batch = models.PositiveIntegerField()
    position = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ClusterRunStatus.choices, default=ClusterRunStatus.PENDING
    )
    active = models.BooleanField(default=True)
    reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = PatchRunClusterQuerySet.as_manager()

    class Meta:
        ordering = ["run", "batch", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "cluster"], name="cluster_once_per_patch_run"),
            models.UniqueConstraint(
                fields=["cluster"], condition=models.Q(active=True), name="one_active_patch_run_per_cluster"
            ),
        ]
        indexes = [models.Index(fields=["status", "cluster"])]

    def __str__(self):
        return f"run #{self.run_id} cluster {self.cluster_id} ({self.status})"


class PatchStepQuerySet(VisibleQuerySet):
    application_path = "cluster__application"


class PatchStep(models.Model):
    """One server in one run: the ledger row (versions and roles before/after, outcome, output)."""

    run = models.ForeignKey(PatchRun, on_delete=models.CASCADE, related_name="steps")
    run_cluster = models.ForeignKey(PatchRunCluster, on_delete=models.CASCADE, related_name="steps")
    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.PROTECT, related_name="patch_steps")
    server = models.ForeignKey("inventory.Server", on_delete=models.PROTECT, related_name="patch_steps")
    batch = models.PositiveIntegerField()
    position = models.PositiveIntegerField(help_text="Order inside the cluster (from live roles)")
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    outcome = models.CharField(max_length=16, choices=StepOutcome.choices, blank=True)
    reason = models.TextField(blank=True, help_text="Why the step failed, was skipped or cancelled")
    exit_code = models.IntegerField(null=True, blank=True)
    version_before = models.CharField(max_length=100, blank=True)
    version_after = models.CharField(max_length=100, blank=True)
    role_before = models.CharField(max_length=16, blank=True)
    role_after = models.CharField(max_length=16, blank=True)
    expected_role = models.CharField(
        max_length=16, blank=True, help_text="The role the server must have after patching"
    )
    checks = models.JSONField(default=list, blank=True, help_text="Pre- and post-check results")
    output = models.TextField(blank=True)
    output_truncated = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker took the step")
    owner = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = PatchStepQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["server", "finished_at"]),
            models.Index(fields=["run", "status"]),
        ]

    def __str__(self):
        return f"run #{self.run_id} {self.server_id}: {self.status}"

    @property
    def is_in_flight(self) -> bool:
        return self.status in IN_FLIGHT_STEP_STATUSES
