"""`rocketdbaas demo`: load every app's demo data, the fleet first.

Apps load in INSTALLED_APPS order; inventory (the applications, clusters and servers) comes
before the apps whose demo data hangs off them.
"""

from django.core.management.base import BaseCommand

from rocketdbaas.core.plugins import app_modules


class Command(BaseCommand):
    help = (
        "Load demo data (idempotent): applications, PostgreSQL and MongoDB clusters, a spare pool, and more."
    )

    def handle(self, *args, **options):
        for app, module in app_modules("demo"):
            self.stdout.write(f"Loading {app.removeprefix('rocketdbaas.')} demo data")
            module.load_demo(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
