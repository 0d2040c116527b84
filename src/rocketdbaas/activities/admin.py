from django.contrib import admin

from rocketdbaas.activities.models import Activity
from rocketdbaas.core.admin import ReadOnlyAdmin


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    """The audit log is append-only: admins may read it, never add, change or delete rows."""

    list_display = (
        "occurred_at",
        "dbms_type",
        "type",
        "cluster",
        "server",
        "planned",
        "summary",
        "recorded_by",
    )
    list_filter = ("dbms_type", "type", "planned")
    search_fields = ("summary", "cluster__name", "server__name", "ticket_url", "request_id")
    date_hierarchy = "occurred_at"
    list_select_related = ("cluster", "server", "recorded_by")
    raw_id_fields = ("cluster", "server", "corrects", "recorded_by")
    actions = None
