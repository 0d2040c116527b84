from django import forms
from django.contrib import admin

from rocketdbaas.core.admin import ReadOnlyAdmin
from rocketdbaas.telemetry import credentials as credential_store
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import (
    CollectionResult,
    CollectionRun,
    DailySize,
    DatabaseInfo,
    DbCredential,
    SizeSample,
    VersionSample,
)


class DbCredentialForm(forms.ModelForm):
    """The password is write-only: never rendered back, kept unless a new one is typed."""

    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted. Leave empty to keep the current password.",
    )
    password_env = forms.CharField(
        required=False,
        label="Password from environment variable",
        help_text=f"Its name must start with {credential_store.env_prefix()}.",
    )
    password_file = forms.CharField(required=False, label="Password from file", help_text="An absolute path.")
    clear_password = forms.BooleanField(required=False, help_text="Connect without a password.")

    class Meta:
        model = DbCredential
        fields = ["dbms_type", "cluster", "username"]

    def clean(self):
        super().clean()
        data = self.cleaned_data
        given = [f for f in ("password", "password_env", "password_file", "clear_password") if data.get(f)]
        if len(given) > 1:
            raise forms.ValidationError("Choose one password source at a time.")
        if data.get("password_env") and (problem := credential_store.check_env_ref(data["password_env"])):
            self.add_error("password_env", problem)
        if data.get("password_file") and (problem := credential_store.check_file_ref(data["password_file"])):
            self.add_error("password_file", problem)
        cluster, dbms_type = data.get("cluster"), data.get("dbms_type")
        if cluster is not None and dbms_type and cluster.dbms_type != dbms_type:
            self.add_error("cluster", f"{cluster.name} is not a {dbms_type} cluster.")
        return data

    def credential_input(self) -> services.CredentialInput:
        data = self.cleaned_data
        return services.CredentialInput(
            username=data.get("username", ""),
            password="" if data.get("clear_password") else (data.get("password") or None),
            password_env=data.get("password_env") or None,
            password_file=data.get("password_file") or None,
        )


@admin.register(DbCredential)
class DbCredentialAdmin(admin.ModelAdmin):
    form = DbCredentialForm
    list_display = ["dbms_type", "cluster", "username", "secret_source", "has_password", "updated_at"]
    list_filter = ["dbms_type", "secret_source"]
    search_fields = ["cluster__name", "username"]

    def get_readonly_fields(self, request, obj=None):
        # Moving a credential to another scope is a new credential; keeps the audit trail clear.
        return (
            ["dbms_type", "cluster", "secret_source", "secret_ref"]
            if obj
            else ["secret_source", "secret_ref"]
        )

    @admin.display(boolean=True, description="password set")
    def has_password(self, obj: DbCredential) -> bool:
        return obj.has_password

    def save_model(self, request, obj, form, change):
        # Through the services, so the secret is encrypted and the change is audited.
        if change:
            services.update_credential(obj, form.credential_input(), user=request.user)
        else:
            saved = services.create_credential(
                obj.dbms_type, obj.cluster, form.credential_input(), user=request.user
            )
            obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.delete_credential(obj, user=request.user)


class CollectionResultInline(admin.TabularInline):
    model = CollectionResult
    fields = readonly_fields = (
        "server",
        "outcome",
        "error",
        "role",
        "version",
        "database_count",
        "duration_ms",
    )
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CollectionRun)
class CollectionRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "trigger",
        "status",
        "dbms_type",
        "cluster",
        "servers_ok",
        "servers_failed",
    ]
    list_filter = ["status", "trigger", "dbms_type"]
    inlines = [CollectionResultInline]


@admin.register(SizeSample)
class SizeSampleAdmin(ReadOnlyAdmin):
    list_display = ["sampled_at", "cluster", "server", "database", "size_bytes", "source"]
    list_filter = ["dbms_type", "source"]
    search_fields = ["cluster__name", "server__name", "database"]
    list_select_related = ["cluster", "server"]


@admin.register(DailySize)
class DailySizeAdmin(ReadOnlyAdmin):
    list_display = ["day", "cluster", "server", "database", "max_bytes", "avg_bytes", "samples"]
    list_filter = ["dbms_type"]
    search_fields = ["cluster__name", "server__name", "database"]
    list_select_related = ["cluster", "server"]


@admin.register(VersionSample)
class VersionSampleAdmin(ReadOnlyAdmin):
    list_display = ["sampled_at", "server", "cluster", "version", "role", "source"]
    list_filter = ["dbms_type", "source"]
    search_fields = ["server__name", "cluster__name", "version"]
    list_select_related = ["cluster", "server"]


@admin.register(DatabaseInfo)
class DatabaseInfoAdmin(ReadOnlyAdmin):
    list_display = ["cluster", "name", "size_bytes", "reported_by", "source", "last_seen_at"]
    search_fields = ["cluster__name", "name"]
    list_select_related = ["cluster", "reported_by"]
