from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "rocketdbaas.backups"
    label = "backups"
