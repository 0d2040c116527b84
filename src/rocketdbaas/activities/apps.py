from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "rocketdbaas.activities"
    label = "activities"
