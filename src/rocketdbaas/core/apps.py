from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "rocketdbaas.core"
    label = "core"
