from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "rocketdbaas.intake"
    label = "intake"
