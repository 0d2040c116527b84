"""Retention: raw samples older than the raw window become daily rollups; the series does not change."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rocketdbaas.core.scheduler import PERIODIC_JOBS
from rocketdbaas.inventory.models import Server
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import CollectionResult, CollectionRun, DailySize, SizeSample
from rocketdbaas.telemetry.tests.conftest import make_cluster

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def orders(db):
    return make_cluster("orders", members=[("orders-db1", 5432), ("orders-db2", 5432)])


def add(cluster, server, database, at, size, source="collected"):
    return SizeSample.objects.create(
        dbms_type="postgresql",
        cluster=cluster,
        server=server,
        database=database,
        size_bytes=size,
        sampled_at=at,
        source=source,
    )


def test_old_days_fold_into_one_row_per_server_database_and_day(orders):
    db1 = Server.objects.get(name="orders-db1")
    old_day = datetime(2026, 4, 10, tzinfo=UTC)
    for hour, size in ((1, 100), (7, 400), (23, 130)):
        add(orders, db1, "sales", old_day + timedelta(hours=hour), size)
    recent = add(orders, db1, "sales", NOW - timedelta(days=2), 999)

    assert services.apply_retention(now=NOW)["samplesFolded"] == 3

    row = DailySize.objects.get()
    assert (row.day, row.max_bytes, row.avg_bytes, row.samples) == (old_day.date(), 400, 210, 3)
    assert list(SizeSample.objects.all()) == [recent]
    # A second pass finds nothing to do.
    assert services.apply_retention(now=NOW)["samplesFolded"] == 0


def test_the_raw_window_is_configurable_and_cuts_at_whole_days(orders, settings):
    settings.TELEMETRY_RAW_RETENTION_DAYS = 7
    db1 = Server.objects.get(name="orders-db1")
    # NOW - 7 days is 2026-05-25 12:00; whole days before 2026-05-25 fold.
    add(orders, db1, "sales", datetime(2026, 5, 24, 23, 59, tzinfo=UTC), 1)
    kept = add(orders, db1, "sales", datetime(2026, 5, 25, 0, 0, tzinfo=UTC), 2)
    services.apply_retention(now=NOW)
    assert list(SizeSample.objects.all()) == [kept]
    assert DailySize.objects.get().day.isoformat() == "2026-05-24"


def test_samples_pushed_late_merge_into_an_existing_rollup(orders):
    db1 = Server.objects.get(name="orders-db1")
    day = datetime(2026, 3, 3, tzinfo=UTC)
    add(orders, db1, "sales", day + timedelta(hours=1), 100)
    add(orders, db1, "sales", day + timedelta(hours=2), 200)
    services.apply_retention(now=NOW)
    add(orders, db1, "sales", day + timedelta(hours=3), 600, source="pushed")
    services.apply_retention(now=NOW)
    row = DailySize.objects.get()
    assert (row.max_bytes, row.avg_bytes, row.samples) == (600, 300, 3)


def test_old_collection_runs_are_dropped_with_their_results(orders, settings):
    settings.TELEMETRY_RUN_RETENTION_DAYS = 90
    old, new = (CollectionRun.objects.create(trigger="schedule") for _ in range(2))
    CollectionRun.objects.filter(pk=old.pk).update(created_at=NOW - timedelta(days=91))
    CollectionRun.objects.filter(pk=new.pk).update(created_at=NOW - timedelta(days=89))
    db1 = Server.objects.get(name="orders-db1")
    for run in (old, new):
        CollectionResult.objects.create(run=run, server=db1, outcome="ok", collected_at=NOW)
    assert services.apply_retention(now=NOW)["runsDeleted"] == 1
    assert list(CollectionRun.objects.all()) == [new]
    assert CollectionResult.objects.count() == 1


def test_collection_and_retention_are_periodic_jobs(settings):
    import rocketdbaas.telemetry.tasks  # noqa: F401 - registers the jobs, as the worker does

    jobs = {name.rsplit(".", 1)[-1]: job for name, job in PERIODIC_JOBS.items() if "telemetry" in name}
    assert (
        jobs["collect_fleet"].every
        == timedelta(seconds=settings.COLLECT_INTERVAL_SECONDS)
        == timedelta(hours=1)
    )
    assert "apply_retention" in jobs


samples = st.lists(
    st.tuples(
        st.sampled_from(["orders-db1", "orders-db2"]),
        st.sampled_from(["sales", "ledger"]),
        st.integers(min_value=0, max_value=60 * 24 * 60 - 1),  # minute within 60 days
        st.integers(min_value=0, max_value=10**12),
    ),
    max_size=40,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=samples, bucket=st.sampled_from(["day", "week", "month"]))
def test_retention_never_changes_day_week_or_month_series(orders, data, bucket):
    SizeSample.objects.all().delete()
    DailySize.objects.all().delete()
    servers = {s.name: s for s in Server.objects.all()}
    start = NOW - timedelta(days=75)
    SizeSample.objects.bulk_create(
        SizeSample(
            dbms_type="postgresql",
            cluster=orders,
            server=servers[server],
            database=database,
            size_bytes=size,
            sampled_at=start + timedelta(minutes=minute),
            source="collected",
        )
        for server, database, minute, size in data
    )
    window = (start - timedelta(days=40), NOW)
    before = services.size_series(orders, *window, bucket)
    services.apply_retention(now=NOW)
    assert services.size_series(orders, *window, bucket) == before
    assert not SizeSample.objects.filter(sampled_at__lt=NOW - timedelta(days=31)).exists()


def test_default_window_is_relative_to_now(orders):
    assert services.apply_retention()["samplesFolded"] == 0
    assert timezone.now() > NOW - timedelta(days=3650)
