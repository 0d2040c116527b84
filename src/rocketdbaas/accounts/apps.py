from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "rocketdbaas.accounts"
    label = "accounts"
