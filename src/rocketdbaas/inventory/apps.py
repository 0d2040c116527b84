from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "rocketdbaas.inventory"
    label = "inventory"
