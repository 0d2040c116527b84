from django.contrib import admin

from rocketdbaas.core.models import PeriodicJobState


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the system writes (ledgers, audit rows, observations): viewable, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PeriodicJobState)
class PeriodicJobStateAdmin(admin.ModelAdmin):
    """The scheduler's bookkeeping; edit next_run_at to run a job sooner."""

    list_display = ("name", "next_run_at", "last_enqueued_at", "last_result_id")
    readonly_fields = ("name", "last_enqueued_at", "last_result_id")
