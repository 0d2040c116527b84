from django.contrib import admin

from rocketdbaas.inventory.models import Application, Cluster, Server


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ("name", "cost_centre", "updated_at")
    search_fields = ("name", "description", "cost_centre")
    filter_horizontal = ("owners",)


class ServerInline(admin.TabularInline):
    model = Server
    fields = ("name", "role", "status", "cpu", "ram", "db_gigs", "db_version", "os_version")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "dbms_type", "application", "environment", "status", "db_version")
    list_filter = ("dbms_type", "environment", "status")
    search_fields = ("name", "application__name")
    list_select_related = ("application",)
    inlines = [ServerInline]


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    """Pool state changes go through the API (checked transitions, audit rows), so they are read-only here."""

    list_display = ("name", "dbms_type", "status", "cluster", "role", "cpu", "ram", "db_gigs", "datacenter")
    list_filter = ("dbms_type", "status", "role", "environment", "datacenter")
    search_fields = ("name", "host", "cluster__name")
    list_select_related = ("cluster",)
    readonly_fields = (
        "status",
        "cluster",
        "reservation_id",
        "locked_by",
        "lease_expires_at",
        "created_at",
        "updated_at",
    )

    def has_delete_permission(self, request, obj=None):
        return False  # servers retire, they are never deleted (history hangs off them)
