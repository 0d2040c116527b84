from django.contrib import admin

from rocketdbaas.backups.models import Backup, RetentionPolicy
from rocketdbaas.core.admin import ReadOnlyAdmin


@admin.register(Backup)
class BackupAdmin(ReadOnlyAdmin):
    """The catalogue is what tools reported; it changes through the API and roll-off, so the admin
    only reads it (an edited size or a deleted row would make history wrong)."""

    list_display = (
        "label",
        "cluster",
        "repository",
        "backup_type",
        "status",
        "started_at",
        "pinned",
        "expired_at",
    )
    list_filter = ("dbms_type", "backup_type", "status", "pinned")
    search_fields = ("label", "cluster__name", "repository")
    date_hierarchy = "started_at"
    list_select_related = ("cluster",)
    raw_id_fields = ("cluster", "server", "depends_on")
    actions = None


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(ReadOnlyAdmin):
    """Policies change through the API or the backups page, which record who changed them."""

    list_display = (
        "__str__",
        "dbms_type",
        "keep_fulls",
        "recovery_window_days",
        "min_fulls",
        "failed_keep_days",
    )
    list_filter = ("dbms_type",)
    list_select_related = ("cluster",)
