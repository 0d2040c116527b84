from django.apps import AppConfig


class PatchingConfig(AppConfig):
    name = "rocketdbaas.patching"
    label = "patching"
