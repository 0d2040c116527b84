"""`rocketdbaas demo`: load a realistic demo fleet, then every feature's own demo data."""

from django.core.management.base import BaseCommand

from rocketdbaas.core.plugins import app_modules
from rocketdbaas.inventory.demo import load_fleet


class Command(BaseCommand):
    help = (
        "Load demo data (idempotent): applications, PostgreSQL and MongoDB clusters, a spare pool, and more."
    )

    def handle(self, *args, **options):
        load_fleet(self.stdout)
        for app, module in app_modules("demo", skip="rocketdbaas.inventory"):
            self.stdout.write(f"Loading {app.removeprefix('rocketdbaas.')} demo data")
            module.load_demo(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
