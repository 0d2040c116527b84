from django.contrib import admin

from rocketdbaas.accounts.roles import is_admin
from rocketdbaas.reports import services
from rocketdbaas.reports.models import RateCard


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    list_display = (
        "dbms_type",
        "effective_from",
        "effective_to",
        "currency",
        "r_cpu",
        "r_ram",
        "r_disk",
        "r_backup",
    )
    list_filter = ("dbms_type", "currency")
    ordering = ("dbms_type", "-effective_from")
    fields = (
        "dbms_type",
        "effective_from",
        "effective_to",
        "currency",
        "r_cpu",
        "r_ram",
        "r_disk",
        "r_backup",
        "notes",
    )

    def get_readonly_fields(self, request, obj=None):
        return ("dbms_type",) if obj is not None else ()

    def has_add_permission(self, request):
        return is_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        # Past months' costs are priced by these cards: end a card (effective to) instead.
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so the change is audited like one made through the API.
        values = {name: getattr(obj, name) for name in services.RATE_CARD_FIELDS}
        if change:
            saved = services.update_rate_card(obj.dbms_type, obj.pk, user=request.user, **values)
        else:
            saved = services.create_rate_card(obj.dbms_type, user=request.user, **values)
        obj.pk, obj._state.adding = saved.pk, False
