"""`rocketdbaas demo`: load a realistic demo fleet, then every feature's own demo data."""

from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand

from rocketdbaas.inventory.demo import load_fleet


class Command(BaseCommand):
    help = (
        "Load demo data (idempotent): applications, PostgreSQL and MongoDB clusters, a spare pool, and more."
    )

    def handle(self, *args, **options):
        load_fleet(self.stdout)
        for app in settings.INSTALLED_APPS:
            if not app.startswith("rocketdbaas.") or app == "rocketdbaas.inventory":
                continue
            try:
                module = import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.demo":
                    raise
                continue
            self.stdout.write(f"Loading {app.removeprefix('rocketdbaas.')} demo data")
            module.load_demo(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
