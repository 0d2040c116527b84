"""The cluster page's "Activities" section: this month's availability and the latest events."""

from django.utils import timezone

from rocketdbaas.activities import services
from rocketdbaas.core.panels import Panel

PANEL_ROWS = 10


def cluster_panels(request, cluster) -> list[Panel]:
    start, end = services.month_bounds(None)
    (downtime,) = services.downtime_for_clusters(cluster.dbms_type, start, end, [cluster.pk])
    activities = (
        services.activity_queryset(cluster.dbms_type, request.user)
        .filter(cluster=cluster, corrects__isnull=True)
        .order_by("-occurred_at", "-id")[:PANEL_ROWS]
    )
    return [
        Panel(
            "Activities",
            "activities/cluster_panel.html",
            {
                "activities": list(activities),
                "downtime": downtime,
                "availability_pct": round(downtime.overall_availability * 100, 3),
                "period": f"{timezone.now():%Y-%m}",
            },
            order=40,
        )
    ]
