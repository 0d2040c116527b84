from django.contrib import admin

from rocketdbaas.core.admin import ReadOnlyAdmin
from rocketdbaas.intake.models import IntakeRequest, RequestEvent


class RequestEventInline(admin.TabularInline):
    """History is append-only: shown, never edited here."""

    model = RequestEvent
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "user", "from_status", "to_status", "comment", "request_id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(IntakeRequest)
class IntakeRequestAdmin(ReadOnlyAdmin):
    """Read-only: requests change state only through the workflow (web page or API), which keeps history."""

    list_display = (
        "reference",
        "status",
        "dbms_type",
        "environment",
        "application",
        "new_application_name",
        "needed_by",
        "created_at",
    )
    list_filter = ("status", "dbms_type", "environment")
    search_fields = (
        "reference",
        "application__name",
        "new_application_name",
        "requester_name",
        "requester_email",
    )
    list_select_related = ("application",)
    inlines = [RequestEventInline]
