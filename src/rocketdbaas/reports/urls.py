from django.urls import path

from rocketdbaas.reports import views
from rocketdbaas.reports.catalog import REPORTS

app_name = "reports"
urlpatterns = [
    path("reports/<str:dbms_type>/", views.index, name="index"),
    path("my-databases/", views.my_databases, name="my-databases"),
    *(
        path(f"reports/<str:dbms_type>/{spec.slug}/", views.report_page, {"slug": spec.slug}, name=spec.slug)
        for spec in REPORTS
    ),
]
