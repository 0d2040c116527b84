from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "rocketdbaas.contacts"
    label = "contacts"
