"""Demo audit history: planned patch windows, outages with and without tickets, failovers."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.activities.services import record_activity
from rocketdbaas.inventory.models import Cluster


def load_demo(stdout) -> None:
    if Activity.objects.filter(details__demo=True).exists():
        stdout.write("  activities: demo history already there")
        return
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    clusters = list(Cluster.objects.fleet().order_by("name").prefetch_related("servers"))
    with transaction.atomic():
        for index, cluster in enumerate(clusters):
            servers = list(cluster.servers.order_by("name"))
            primary = servers[0] if servers else None

            def log(kind, days_ago, hours, summary, planned, ticket="", server=None, cluster=cluster):
                record_activity(
                    dbms_type=cluster.dbms_type,
                    type=kind,
                    summary=summary,
                    cluster=cluster,
                    server=server,
                    planned=planned,
                    ticket_url=ticket,
                    details={"demo": True},
                    occurred_at=now - timedelta(days=days_ago) + timedelta(hours=hours),
                )

            # A monthly patch window, announced and planned.
            for month in range(3):
                day = 10 + 30 * month + index % 5
                log(ActivityType.DOWN, day, 0, "Patch window: DB restart for minor version", True)
                log(ActivityType.PATCH, day, 0.5, "Minor version applied", True, server=primary)
                log(ActivityType.UP, day, 0.75, "Patch window over", True)
            if index % 3 == 0:
                ticket = f"https://tickets.example.com/browse/INC-{4100 + index}"
                log(
                    ActivityType.DOWN,
                    5 + index,
                    3,
                    "Primary stopped answering (disk full)",
                    False,
                    ticket,
                    primary,
                )
                log(
                    ActivityType.FAILOVER, 5 + index, 3.1, "Replica promoted by the HA manager", False, ticket
                )
                log(
                    ActivityType.UP,
                    5 + index,
                    3.4,
                    "Service restored on the new primary",
                    False,
                    ticket,
                    primary,
                )
            if index % 4 == 1:
                log(ActivityType.FAILOVER, 2 + index, 14, "Unexpected failover after network blip", False)
            log(
                ActivityType.DB_RESTART,
                20 + index,
                2,
                "Restart to apply shared_buffers change",
                True,
                server=primary,
            )
    stdout.write(f"  activities: demo history for {len(clusters)} clusters")
