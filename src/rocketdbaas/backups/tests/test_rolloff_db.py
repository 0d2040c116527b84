"""Roll-off against the database: random catalogues and policies, applied twice."""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings

from rocketdbaas.activities.models import Activity
from rocketdbaas.backups.models import Backup, RetentionPolicy
from rocketdbaas.backups.services import roll_off_backups
from rocketdbaas.backups.tests.test_rolloff_rules import NOW, catalogues, check_safety, policies


@pytest.mark.django_db
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(catalogues(), policies)
def test_applied_roll_off_is_safe_and_idempotent(orders, facts, policy):
    with transaction.atomic():
        RetentionPolicy.objects.create(
            dbms_type="postgresql",
            cluster=orders,
            keep_fulls=policy.keep_fulls,
            recovery_window_days=policy.recovery_window_days,
            min_fulls=policy.min_fulls,
            failed_keep_days=policy.failed_keep_days,
        )
        db_ids = {}
        for fact in facts:
            db_ids[fact.id] = Backup.objects.create(
                dbms_type="postgresql",
                cluster=orders,
                label=f"b{fact.id}",
                repository="repo1",
                backup_type=fact.backup_type,
                status=fact.status,
                started_at=fact.started_at,
                stopped_at=fact.stopped_at if fact.status != "running" else None,
                depends_on_id=db_ids.get(fact.depends_on_id),
                pinned=fact.pinned,
            ).pk
        activities_before = Activity.objects.count()
        first = roll_off_backups("postgresql", dry_run=False, now=NOW)
        second = roll_off_backups("postgresql", dry_run=False, now=NOW)
        expired_db = set(Backup.objects.filter(expired_at__isnull=False).values_list("pk", flat=True))
        activities_written = Activity.objects.count() - activities_before
        transaction.set_rollback(True)
    by_db_id = {v: k for k, v in db_ids.items()}
    gone = {by_db_id[pk] for pk in expired_db}
    check_safety(facts, policy, gone)
    assert {i.backup_id for i in first.items} == expired_db
    assert second.expire_count == 0
    assert activities_written == (1 if expired_db else 0)
