"""Patching's planned work, for activities.failover: when a real patch run was working on a
cluster. Its switchovers and restarts move primaries on purpose, so a failover then is planned."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from rocketdbaas.patching.models import PatchRunCluster


def cluster_windows(
    cluster_ids: Iterable[int], since: datetime, until: datetime
) -> list[tuple[int, datetime, datetime | None]]:
    """(cluster id, start, end) of each real run's work on those clusters overlapping [since,
    until]: from when the run started the cluster until it finished with it (or the run ended);
    no end while it is still going on. Dry runs change nothing and never count."""
    rows = (
        PatchRunCluster.objects.filter(
            cluster_id__in=list(cluster_ids),
            run__dry_run=False,
            started_at__isnull=False,
            started_at__lte=until,
        )
        .filter(
            Q(finished_at__gte=since)
            | Q(finished_at__isnull=True, run__finished_at__gte=since)
            | Q(finished_at__isnull=True, run__finished_at__isnull=True)
        )
        .values_list("cluster_id", "started_at", "finished_at", "run__finished_at")
    )
    return [
        (cluster_id, start, finished or run_finished) for cluster_id, start, finished, run_finished in rows
    ]
