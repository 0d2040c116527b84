"""Roll-off racing the registration of a backup that depends on what it would expire, in real
threads with their own database connections (either order must leave no live backup whose
parent expired), and the daily task."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from rocketdbaas.activities.tests.conftest import make_cluster
from rocketdbaas.backups.models import Backup
from rocketdbaas.backups.services import NewBackup, register_backup, roll_off_backups, set_policy
from rocketdbaas.core.errors import Invalid


def full(cluster, label, days_ago):
    start = timezone.now() - timedelta(days=days_ago)
    return Backup.objects.create(
        dbms_type="postgresql",
        cluster=cluster,
        label=label,
        repository="repo1",
        backup_type="full",
        status="succeeded",
        started_at=start,
        stopped_at=start + timedelta(hours=1),
    )


@pytest.mark.django_db(transaction=True)
def test_roll_off_never_orphans_a_backup_registered_meanwhile():
    set_policy(
        dbms_type="postgresql",
        cluster=None,
        keep_fulls=1,
        recovery_window_days=None,
        min_fulls=1,
        failed_keep_days=30,
        user=None,
    )
    outcomes = []
    for round_no in range(6):
        cluster = make_cluster(f"pg-race-{round_no}")
        old = full(cluster, "OLD", 20)
        full(cluster, "NEW", 1)
        barrier = threading.Barrier(2)
        result: dict[str, object] = {}

        def roll(cluster=cluster, barrier=barrier, result=result):
            try:
                barrier.wait()
                result["expired"] = {
                    i.label for i in roll_off_backups("postgresql", dry_run=False, cluster=cluster.name).items
                }
            finally:
                connection.close()

        def register(cluster=cluster, barrier=barrier, result=result):
            try:
                barrier.wait()
                register_backup(
                    dbms_type="postgresql",
                    new=NewBackup(
                        cluster=cluster.name,
                        label="INCR-ON-OLD",
                        repository="repo1",
                        backup_type="incremental",
                        status="succeeded",
                        started_at=timezone.now() - timedelta(minutes=1),
                        stopped_at=timezone.now(),
                        depends_on="OLD",
                    ),
                    user=None,
                )
                result["registered"] = True
            except Invalid:
                result["registered"] = False
            finally:
                connection.close()

        threads = [threading.Thread(target=roll), threading.Thread(target=register)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        old.refresh_from_db()
        incr = Backup.objects.filter(cluster=cluster, label="INCR-ON-OLD").first()
        if result["registered"]:
            # The incremental got in first: the roll-off saw it and expired the chain whole.
            incr.refresh_from_db()
            assert old.expired_at is not None and incr.expired_at is not None
            assert result["expired"] == {"OLD", "INCR-ON-OLD"}
        else:
            # The roll-off got in first: the parent was gone, so the incremental was refused.
            assert incr is None and old.expired_at is not None and result["expired"] == {"OLD"}
        outcomes.append(result["registered"])
    live_children = Backup.objects.filter(expired_at__isnull=True, depends_on__isnull=False)
    assert not live_children.filter(depends_on__expired_at__isnull=False).exists()
    assert len(outcomes) == 6


@pytest.mark.django_db
def test_daily_task_rolls_off_every_type(orders):
    from rocketdbaas.backups.tasks import roll_off_all_backups
    from rocketdbaas.core.scheduler import PERIODIC_JOBS

    assert PERIODIC_JOBS["rocketdbaas.backups.tasks.roll_off_all_backups"].every == timedelta(days=1)
    for days in (30, 20, 10):
        full(orders, f"F{days}", days)
    set_policy(
        dbms_type="postgresql",
        cluster=None,
        keep_fulls=1,
        recovery_window_days=None,
        min_fulls=1,
        failed_keep_days=30,
        user=None,
    )
    assert roll_off_all_backups.call() == {"postgresql": 2, "mongodb": 0}
    assert roll_off_all_backups.call() == {"postgresql": 0, "mongodb": 0}
