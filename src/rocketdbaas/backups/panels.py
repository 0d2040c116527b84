"""The cluster page's "Backups" section: retention, the newest full and the latest backups."""

from rocketdbaas.backups import services
from rocketdbaas.backups.models import CHAIN_ROOT_TYPES, BackupStatus
from rocketdbaas.core.panels import Panel

PANEL_ROWS = 10


def cluster_panels(request, cluster) -> list[Panel]:
    backups = list(
        services.backup_queryset(cluster.dbms_type, request.user).filter(cluster=cluster)[:PANEL_ROWS]
    )
    last_full = (
        services.backup_queryset(cluster.dbms_type, request.user)
        .filter(
            cluster=cluster,
            backup_type__in=CHAIN_ROOT_TYPES,
            status=BackupStatus.SUCCEEDED,
            expired_at__isnull=True,
        )
        .first()
    )
    policy = services.effective_policy(cluster.dbms_type, cluster)
    return [
        Panel(
            "Backups",
            "backups/cluster_panel.html",
            {
                "backups": backups,
                "last_full": last_full,
                "policy": services.as_rule(policy).describe() if policy else None,
            },
            order=50,
        )
    ]
