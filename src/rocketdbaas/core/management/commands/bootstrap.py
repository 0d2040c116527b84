"""`rocketdbaas bootstrap`: on first start, an `admin` account and an API token, printed once."""

import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from rocketdbaas.accounts.models import ApiToken, User

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the admin account and a write API token on first start; later runs print nothing secret."

    def handle(self, *args, **options):
        if User.objects.filter(username=ADMIN_USERNAME).exists():
            self.stdout.write(
                f"The {ADMIN_USERNAME!r} account exists (its password and token were printed on first start). "
                "New token: rocketdbaas token create --user admin --write"
            )
            return
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
            _, raw = ApiToken.issue(user, write=True, name="bootstrap")
        bar = "=" * 72
        self.stdout.write(
            f"{bar}\nFirst start: created the {ADMIN_USERNAME!r} account. Shown once, keep them safe:\n"
            f"  username:  {ADMIN_USERNAME}\n  password:  {password}\n  API token: {raw}\n{bar}"
        )
