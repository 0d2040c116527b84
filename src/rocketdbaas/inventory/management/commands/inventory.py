"""`rocketdbaas inventory --list | --host NAME`: the fleet as an Ansible dynamic inventory script.

Ansible runs an inventory script with `--list` (all groups and `_meta.hostvars`) or
`--host NAME` (one host's variables). Point Ansible at scripts/ansible-inventory, which runs this.
"""

import json
import os

from django.core.management.base import BaseCommand, CommandError

from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import Environment

ENV_PREFIX = "ROCKETDBAAS_INVENTORY_"


class Command(BaseCommand):
    help = (
        "Print active clusters' servers as Ansible dynamic inventory JSON. Filters also come from "
        "ROCKETDBAAS_INVENTORY_DBMS_TYPES (comma-separated), _ENVIRONMENT, _APPLICATION, _CLUSTER, "
        "since Ansible passes no options of its own."
    )

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--list", action="store_true", help="All hosts and groups.")
        what.add_argument("--host", metavar="NAME", help="One host's variables.")
        parser.add_argument(
            "--dbms-type",
            action="append",
            choices=DbmsType.values,
            help="Only this type (repeatable; default: every type).",
        )
        parser.add_argument("--environment", choices=Environment.values)
        parser.add_argument("--application")
        parser.add_argument("--cluster")

    def handle(self, *args, **options):
        host = options["host"]
        types = options["dbms_type"] or _env_list("DBMS_TYPES") or DbmsType.values
        unknown = sorted(set(types) - set(DbmsType.values))
        if unknown:
            raise CommandError(f"Unknown dbms types: {', '.join(unknown)}")
        filters = {
            key: options[key] or os.environ.get(ENV_PREFIX + key.upper()) or None
            for key in ("environment", "application", "cluster")
        }
        rows = [
            row
            for dbms_type in types
            for row in services.active_servers(dbms_type, server_name=host, **filters)
        ]
        if host is not None:
            out = services.ansible_hostvars(rows[0]) if rows else {}
        else:
            out = services.ansible_inventory(rows)
        self.stdout.write(json.dumps(out, indent=2, sort_keys=True))


def _env_list(name: str) -> list[str]:
    value = os.environ.get(ENV_PREFIX + name, "")
    return [v.strip().lower() for v in value.split(",") if v.strip()]
