"""`rocketdbaas backups import|rolloff`: the backup catalogue from the command line."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rocketdbaas.backups import services
from rocketdbaas.core.errors import ProblemError
from rocketdbaas.dbms import DbmsType


class Command(BaseCommand):
    help = "Import backup tool output into the catalogue, or roll off expired backups."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser(
            "import", help="Import `pgbackrest info --output=json` or `pbm list/status --out=json`"
        )
        source = imp.add_mutually_exclusive_group(required=True)
        source.add_argument("--pgbackrest", metavar="FILE", help="pgBackRest info JSON ('-' reads stdin)")
        source.add_argument("--pbm", metavar="FILE", help="PBM list or status JSON ('-' reads stdin)")
        imp.add_argument("--cluster", required=True, help="The cluster the backups belong to")
        imp.add_argument("--stanza", help="pgBackRest stanza, when the file has several")

        roll = sub.add_parser("rolloff", help="Expire backups that the retention policies let go")
        roll.add_argument("--dry-run", action="store_true", help="List what would expire and why")
        roll.add_argument("--dbms", choices=[t.value for t in DbmsType], help="Only this DBMS type")
        roll.add_argument("--cluster", help="Only this cluster (needs --dbms)")

    def handle(self, *args, **options) -> None:
        try:
            if options["action"] == "import":
                self._import(options)
            else:
                self._rolloff(options)
        except ProblemError as exc:
            lines = [exc.detail] + [f"  {e.get('field')}: {e.get('message')}" for e in exc.errors or []]
            raise CommandError("\n".join(lines)) from None

    def _import(self, options) -> None:
        tool, path = (
            ("pgbackrest", options["pgbackrest"]) if options["pgbackrest"] else ("pbm", options["pbm"])
        )
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text()
            document = json.loads(text)
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        dbms_type = DbmsType.POSTGRESQL if tool == "pgbackrest" else DbmsType.MONGODB
        result = services.import_backups(
            dbms_type=dbms_type,
            cluster=options["cluster"],
            tool=tool,
            document=document,
            stanza=options.get("stanza"),
            user=None,
        )
        self.stdout.write(
            f"{options['cluster']}: {result.created} new, {result.updated} updated, "
            f"{result.unchanged} unchanged backups from {tool}"
        )

    def _rolloff(self, options) -> None:
        if options["cluster"] and not options["dbms"]:
            raise CommandError("--cluster needs --dbms.")
        kinds = [DbmsType(options["dbms"])] if options["dbms"] else list(DbmsType)
        dry_run = options["dry_run"]
        for kind in kinds:

            def progress(done: int, total: int, expiring: int, kind=kind) -> None:
                verb = "would expire" if dry_run else "expired"
                self.stdout.write(f"\r{kind}: {done}/{total} clusters, {verb} {expiring} backups", ending="")
                self.stdout.flush()

            report = services.roll_off_backups(
                kind, dry_run=dry_run, cluster=options["cluster"], progress=progress
            )
            self.stdout.write("")
            for item in report.items:
                self.stdout.write(
                    f"  {item.cluster} {item.repository} {item.label} ({item.backup_type}, "
                    f"{item.started_at:%Y-%m-%d %H:%M}): {item.reason}"
                )
            if report.clusters_without_policy:
                self.stdout.write(
                    f"  no retention policy, skipped: {', '.join(sorted(report.clusters_without_policy))}"
                )
            verb = "Would expire" if dry_run else "Expired"
            self.stdout.write(
                f"{kind}: {verb} {report.expire_count} backups ({report.reclaimed_gigs} GiB) "
                f"in {report.clusters_checked} clusters with backups"
            )
