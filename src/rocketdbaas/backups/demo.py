"""Demo catalogue: weekly fulls with daily incrementals (PostgreSQL, pgBackRest) and nightly
dumps (MongoDB, PBM), retention policies per type, and a roll-off waiting to be previewed."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from rocketdbaas.backups.models import Backup, BackupStatus, BackupType, RetentionPolicy
from rocketdbaas.backups.services import NewBackup, register_backup, set_policy
from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory.models import Cluster

WEEKS = 6


def load_demo(stdout) -> None:
    with transaction.atomic():
        if not RetentionPolicy.objects.filter(cluster__isnull=True).exists():
            set_policy(
                dbms_type=DbmsType.POSTGRESQL,
                cluster=None,
                keep_fulls=3,
                recovery_window_days=None,
                min_fulls=2,
                failed_keep_days=14,
                user=None,
            )
            set_policy(
                dbms_type=DbmsType.MONGODB,
                cluster=None,
                keep_fulls=None,
                recovery_window_days=14,
                min_fulls=2,
                failed_keep_days=14,
                user=None,
            )
    if Backup.objects.filter(details__demo=True).exists():
        stdout.write("  backups: demo catalogue already there")
        return
    today = timezone.now().replace(hour=1, minute=0, second=0, microsecond=0)
    created = 0
    for index, cluster in enumerate(Cluster.objects.fleet().order_by("name")):
        size = float(sum(s.db_gigs for s in cluster.servers.all()[:1]) or 100) * 0.6
        for day in range(WEEKS * 7, 0, -1):
            start = today - timedelta(days=day)
            failed = (day + index) % 17 == 0
            if cluster.dbms_type == DbmsType.POSTGRESQL:
                weekly = start.weekday() == 6
                label = start.strftime("%Y%m%d-%H%M%S") + ("F" if weekly else "I")
                kind = BackupType.FULL if weekly else BackupType.INCREMENTAL
                parent = None if weekly else _previous_good(cluster)
                if parent is None and not weekly:
                    continue
                tool, stored = "pgbackrest", size * (0.24 if weekly else 0.015)
            else:
                label, kind, parent = start.strftime("%Y-%m-%dT%H:%M:%SZ"), BackupType.LOGICAL, None
                tool, stored = "pbm", size * 0.3
            register_backup(
                dbms_type=cluster.dbms_type,
                new=NewBackup(
                    cluster=cluster.name,
                    label=label,
                    repository="repo1" if tool == "pgbackrest" else "main",
                    tool=tool,
                    backup_type=kind,
                    status=BackupStatus.FAILED if failed else BackupStatus.SUCCEEDED,
                    started_at=start,
                    stopped_at=start + timedelta(minutes=50 if kind != BackupType.INCREMENTAL else 6),
                    db_size_gigs=round(size * (1 + (WEEKS * 7 - day) / 400), 2),
                    bkup_size_gigs=None if failed else round(stored, 2),
                    depends_on=parent.label if parent else None,
                    details={"demo": True},
                ),
                user=None,
            )
            created += 1
    stdout.write(f"  backups: {created} demo backups, default retention policies")


def _previous_good(cluster) -> Backup | None:
    return (
        Backup.objects.filter(cluster=cluster, status=BackupStatus.SUCCEEDED, repository="repo1")
        .order_by("-started_at")
        .first()
    )
