"""rocketdbaas collect: read sizes, databases, versions and roles from the fleet now."""

import time

from django.core.management.base import BaseCommand, CommandError

from rocketdbaas.core.errors import ProblemError
from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory.models import Cluster
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import RunTrigger


class Command(BaseCommand):
    help = "Collect sizes, databases, versions and roles from active servers (one line per server)."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", help="Only this cluster")
        parser.add_argument("--dbms", choices=[t.value for t in DbmsType], help="Only this dbmsType")
        parser.add_argument("--include-pool", action="store_true", help="Also Free and Locked pool servers")
        parser.add_argument(
            "--workers", type=int, default=None, help="Parallel connections (COLLECT_WORKERS)"
        )

    def handle(self, *args, cluster=None, dbms=None, include_pool=False, workers=None, **options):
        target = None
        if cluster:
            target = Cluster.objects.filter(name=cluster).first()
            if target is None:
                raise CommandError(f"No cluster named {cluster!r}.")
            if dbms and target.dbms_type != dbms:
                raise CommandError(f"{cluster} is a {target.dbms_type} cluster, not {dbms}.")
        started = time.monotonic()

        def progress(done: int, total: int, probed: services.Probed) -> None:
            state = probed.state
            what = (
                f"{state.role} {state.version}, {len(state.databases)} databases"
                if state.reachable
                else state.error
            )
            ok = state.reachable
            line = (
                f"[{done:>{len(str(total))}}/{total}] {probed.server.name}: {what} ({probed.duration_ms} ms)"
            )
            self.stdout.write(self.style.SUCCESS(line) if ok else self.style.WARNING(line))

        try:
            run = services.collect(
                trigger=RunTrigger.CLI,
                dbms_type=dbms or "",
                cluster=target,
                include_pool=include_pool,
                progress=progress,
                workers=workers,
            )
        except ProblemError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(
            f"Collection #{run.pk} {run.status}: {run.servers_ok} ok, {run.servers_failed} failed "
            f"of {run.servers_total} servers in {time.monotonic() - started:.1f} s"
        )
