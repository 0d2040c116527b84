"""Admin: recipes, cluster patch settings, target versions and trusted SSH host keys are edited
here; runs and their steps are the ledger, so they are read-only."""

from django.contrib import admin

from rocketdbaas.core.admin import ReadOnlyAdmin
from rocketdbaas.patching.models import (
    ClusterPatchSettings,
    PatchRecipe,
    PatchRun,
    PatchRunCluster,
    PatchStep,
    SshKnownHost,
    TargetVersion,
)


@admin.register(PatchRecipe)
class PatchRecipeAdmin(admin.ModelAdmin):
    list_display = ("name", "dbms_type", "patch_type", "executor", "timeout_seconds", "active", "updated_at")
    list_filter = ("dbms_type", "patch_type", "executor", "active")
    search_fields = ("name", "command", "description")
    fieldsets = (
        (None, {"fields": ("name", "dbms_type", "patch_type", "executor", "active", "description")}),
        ("Commands", {"fields": ("pre_command", "command", "post_command", "version_command")}),
        (
            "Limits and login",
            {"fields": ("timeout_seconds", "verify_timeout_seconds", "ssh_user", "variables")},
        ),
    )


@admin.register(ClusterPatchSettings)
class ClusterPatchSettingsAdmin(admin.ModelAdmin):
    list_display = ("cluster", "primary_strategy", "max_lag_bytes", "max_lag_seconds", "updated_at")
    list_filter = ("primary_strategy", "cluster__dbms_type")
    search_fields = ("cluster__name",)
    raw_id_fields = ("cluster",)


@admin.register(TargetVersion)
class TargetVersionAdmin(admin.ModelAdmin):
    list_display = ("dbms_type", "patch_type", "version", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(SshKnownHost)
class SshKnownHostAdmin(admin.ModelAdmin):
    list_display = ("host", "key_type", "comment", "created_at")
    search_fields = ("host", "comment")

    @admin.display(description="Key type")
    def key_type(self, obj):
        return obj.key.split(" ", 1)[0]


class RunClusterInline(admin.TabularInline):
    model = PatchRunCluster
    fields = ("batch", "position", "cluster", "status", "reason", "started_at", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PatchRun)
class PatchRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "dbms_type",
        "patch_type",
        "patch_version",
        "recipe",
        "status",
        "dry_run",
        "created_by",
        "created_at",
    )
    list_filter = ("dbms_type", "patch_type", "status", "dry_run")
    search_fields = ("patch_version", "recipe__name")
    list_select_related = ("recipe", "created_by")
    inlines = [RunClusterInline]


@admin.register(PatchStep)
class PatchStepAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "run",
        "cluster",
        "server",
        "status",
        "version_before",
        "version_after",
        "exit_code",
        "finished_at",
    )
    list_filter = ("status", "outcome", "run__dbms_type", "run__patch_type")
    search_fields = ("server__name", "cluster__name")
    list_select_related = ("run", "cluster", "server")
