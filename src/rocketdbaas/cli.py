"""The `rocketdbaas` console script: every Django management command plus the project's own
(serve, worker, token, demo, inventory, patch, collect, backups, …)."""

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rocketdbaas.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv if argv is not None else sys.argv)
    return 0
