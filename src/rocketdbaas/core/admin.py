from django.contrib import admin

from rocketdbaas.core.models import PeriodicJobState


@admin.register(PeriodicJobState)
class PeriodicJobStateAdmin(admin.ModelAdmin):
    """The scheduler's bookkeeping; edit next_run_at to run a job sooner."""

    list_display = ("name", "next_run_at", "last_enqueued_at", "last_result_id")
    readonly_fields = ("name", "last_enqueued_at", "last_result_id")
