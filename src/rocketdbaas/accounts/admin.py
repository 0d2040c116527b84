from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.utils import timezone

from rocketdbaas.accounts.models import ApiToken, User


@admin.register(User)
class RocketUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("RocketDBaaS", {"fields": ("role",)}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("RocketDBaaS", {"fields": ("role",)}))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by `rocketdbaas token create`, which shows the value once; here only its hash."""

    list_display = ("user", "name", "hint", "write", "expires_at", "last_used_at", "revoked_at", "created_at")
    list_filter = ("write",)
    search_fields = ("user__username", "name", "hint")
    fields = (
        "user",
        "name",
        "hint",
        "key_hash",
        "write",
        "expires_at",
        "revoked_at",
        "created_at",
        "last_used_at",
    )
    readonly_fields = ("user", "hint", "key_hash", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
