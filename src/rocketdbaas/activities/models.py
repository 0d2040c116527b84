from django.conf import settings
from django.db import models

from rocketdbaas.accounts.scoping import VisibleQuerySet
from rocketdbaas.dbms import DbmsType


class ActivityType(models.TextChoices):
    FAILOVER = "Failover"
    SWITCHOVER = "Switchover"
    DOWN = "Down"
    UP = "Up"
    PATCH = "Patch"
    DB_RESTART = "DbRestart"
    SERVER_RESTART = "ServerRestart"
    BACKUP = "Backup"
    MAINTENANCE = "Maintenance"
    POOL_CHANGE = "PoolChange"
    CLUSTER_CHANGE = "ClusterChange"
    OTHER = "Other"
    # A row that amends an earlier one (ticket link, planned flag); its own type, so that
    # counting Failovers or Downs never counts a correction twice.
    CORRECTION = "Correction"


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit row."""


class ActivityQuerySet(VisibleQuerySet):
    application_path = "cluster__application"

    def update(self, **kwargs):
        raise AppendOnlyError("Activities are append-only; record a correction instead.")

    def delete(self):
        raise AppendOnlyError("Activities are append-only; they are never deleted.")


class Activity(models.Model):
    """Append-only audit log of what happened to a cluster, a server or the pool.

    A correction is a new row that references the one it corrects. On PostgreSQL a trigger
    also refuses UPDATE and DELETE, so not even raw SQL rewrites history.
    """

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices, db_index=True)
    type = models.CharField(max_length=20, choices=ActivityType.choices)
    cluster = models.ForeignKey(
        "inventory.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="activities"
    )
    server = models.ForeignKey(
        "inventory.Server", null=True, blank=True, on_delete=models.PROTECT, related_name="activities"
    )
    occurred_at = models.DateTimeField(db_index=True)
    planned = models.BooleanField(null=True, blank=True)
    ticket_url = models.URLField(max_length=500, blank=True)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    request_id = models.CharField(max_length=64, blank=True)
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["cluster", "occurred_at"]),
            models.Index(fields=["dbms_type", "type", "occurred_at"]),
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.type}: {self.summary}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Activities are append-only; record a correction instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Activities are append-only; they are never deleted.")
