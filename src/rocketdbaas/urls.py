from django.contrib import admin
from django.urls import include, path

from rocketdbaas.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("rocketdbaas.accounts.urls")),
    path("", include("rocketdbaas.core.urls")),
    path("", include("rocketdbaas.inventory.urls")),
    path("", include("rocketdbaas.patching.urls")),
    path("", include("rocketdbaas.contacts.urls")),
    path("", include("rocketdbaas.activities.urls")),
    path("", include("rocketdbaas.backups.urls")),
    path("", include("rocketdbaas.telemetry.urls")),
    path("", include("rocketdbaas.intake.urls")),
    path("", include("rocketdbaas.reports.urls")),
]
