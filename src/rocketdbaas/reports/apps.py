from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "rocketdbaas.reports"
    label = "reports"
