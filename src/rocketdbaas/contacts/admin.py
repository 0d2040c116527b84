"""Admin: contacts and links are editable; the email log and the change log are records, read only.

Changes made here skip the services (no ContactChange row, no uniqueness check beyond the
database's); the web pages and the API are the way to change contacts day to day.
"""

from django.contrib import admin

from rocketdbaas.contacts.models import ApplicationContact, Contact, ContactChange, NotificationLog
from rocketdbaas.core.admin import ReadOnlyAdmin


class ApplicationContactInline(admin.TabularInline):
    model = ApplicationContact
    extra = 0
    raw_id_fields = ["application"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "phone", "team", "valid_from", "valid_to"]
    list_filter = ["team"]
    search_fields = ["name", "email", "team"]
    inlines = [ApplicationContactInline]

    def has_delete_permission(self, request, obj=None):
        return False  # contacts expire; they are never deleted


@admin.register(ApplicationContact)
class ApplicationContactAdmin(admin.ModelAdmin):
    list_display = ["application", "contact", "role", "patching_emails", "created_at"]
    list_filter = ["role", "patching_emails"]
    search_fields = ["application__name", "contact__name", "contact__email"]
    list_select_related = ["application", "contact"]


@admin.register(NotificationLog)
class NotificationLogAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "application",
        "recipient_email",
        "subject",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["recipient_email", "subject", "event_key", "application__name"]
    list_select_related = ["application"]
    date_hierarchy = "created_at"


@admin.register(ContactChange)
class ContactChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "contact", "application", "user", "request_id"]
    list_filter = ["action"]
    search_fields = ["contact__name", "contact__email", "application__name", "request_id"]
    list_select_related = ["contact", "application", "user"]
