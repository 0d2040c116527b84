from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "rocketdbaas.telemetry"
    label = "telemetry"
