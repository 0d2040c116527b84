"""The cluster page's "Databases" section: what the cluster holds now and how it grew."""

from datetime import timedelta

from django.utils import timezone

from rocketdbaas.core.panels import Panel
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import DatabaseInfo

CHART_DAYS = 90
CHART_DATABASES = 8  # the biggest ones; more lines than that are unreadable


def size_chart(series: dict) -> dict:
    """Chart.js line data: one line per large database plus the cluster total, in GiB."""
    labels = sorted({p["at"] for p in series["total"]})
    biggest = sorted(series["databases"], key=lambda d: -max(p["sizeBytes"] for p in d["points"]))
    lines = [("Cluster total", {p["at"]: p["sizeGigs"] for p in series["total"]})]
    lines += [(d["name"], {p["at"]: p["sizeGigs"] for p in d["points"]}) for d in biggest[:CHART_DATABASES]]
    return {
        "labels": [at.date().isoformat() for at in labels],
        "datasets": [{"label": name, "data": [points.get(at) for at in labels]} for name, points in lines],
    }


def cluster_panels(request, cluster) -> list[Panel]:
    now = timezone.now()
    series = services.size_series(cluster, now - timedelta(days=CHART_DAYS), now, "day")
    databases = DatabaseInfo.objects.filter(cluster=cluster).order_by("-size_bytes", "name")
    return [
        Panel(
            "Databases",
            "telemetry/cluster_panel.html",
            {
                "databases": [
                    {
                        "name": d.name,
                        "size_gigs": services.gigs(d.size_bytes),
                        "system": services.is_system_database(cluster.dbms_type, d.name),
                        "source": d.get_source_display(),
                        "last_seen_at": d.last_seen_at,
                    }
                    for d in databases
                ],
                "last_collected": services.last_collected(cluster),
                "chart": size_chart(series),
                "chart_id": f"cluster-sizes-{cluster.pk}",
                "chart_days": CHART_DAYS,
            },
            order=30,
        )
    ]
