"""Demo telemetry: six months of plausible database sizes for the demo fleet, so the reports
and the cluster pages have trends to show. Days older than the raw window are daily rollups,
the recent ones raw samples every six hours, exactly as retention would leave them."""

import random
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from rocketdbaas.dbms import get_module
from rocketdbaas.inventory.models import Cluster
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import DailySize, DatabaseInfo, SampleSource, SizeSample, VersionSample

HISTORY_DAYS = 180
RAW_EVERY = timedelta(hours=6)
GIB = services.GIB
# Application database names by the first word after the type prefix of the cluster name.
APP_DATABASES = {
    "payments": ["payments", "ledger", "settlement"],
    "orders": ["orders", "fulfilment", "events"],
    "portal": ["portal", "sessions"],
    "analytics": ["warehouse_feed"],
}


def _databases(cluster: Cluster) -> list[str]:
    words = cluster.name.split("-")
    app = APP_DATABASES.get(words[1] if len(words) > 1 else "", ["app"])
    return [*app, *get_module(cluster.dbms_type).SYSTEM_DATABASES]


class _Growth:
    """A database that grows a little every day, with noise and the odd cleanup."""

    def __init__(self, rng: random.Random, system: bool):
        self.size = rng.uniform(0.05, 0.3) * GIB if system else rng.uniform(5, 400) * GIB
        self.daily = 0.0 if system else rng.uniform(0.0005, 0.006)
        self.rng = rng

    def size_at(self, day_index: int) -> int:
        base = self.size * (1 + self.daily) ** day_index
        if self.daily and day_index % 61 == 60:
            self.size *= 0.93  # an archive job moved old rows out
        return max(0, int(base * self.rng.uniform(0.995, 1.005)))


def load_demo(stdout) -> None:
    now = timezone.now()
    raw_start = datetime.combine(
        (now - timedelta(days=services.raw_retention_days() - 1)).date(), datetime.min.time(), tzinfo=UTC
    )
    first_day = (now - timedelta(days=HISTORY_DAYS)).date()
    clusters = list(Cluster.objects.fleet().prefetch_related("servers").order_by("name"))
    with_data = set(DailySize.objects.values_list("cluster_id", flat=True).distinct())
    loaded = 0
    for cluster in clusters:
        servers = [s for s in cluster.servers.all() if s.role != "arbiter"]
        if cluster.pk in with_data or not servers:
            continue
        rng = random.Random(cluster.name)
        daily: list[DailySize] = []
        raw: list[SizeSample] = []
        for database in _databases(cluster):
            growth = _Growth(rng, services.is_system_database(cluster.dbms_type, database))
            for offset in range(HISTORY_DAYS + 1):
                day = first_day + timedelta(days=offset)
                size = growth.size_at(offset)
                start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
                for server in servers:
                    if start < raw_start:
                        daily.append(
                            DailySize(
                                dbms_type=cluster.dbms_type,
                                cluster=cluster,
                                server=server,
                                database=database,
                                day=day,
                                max_bytes=size,
                                avg_bytes=int(size * 0.998),
                                samples=24,
                            )
                        )
                        continue
                    at = start
                    while at < min(start + timedelta(days=1), now):
                        raw.append(
                            SizeSample(
                                dbms_type=cluster.dbms_type,
                                cluster=cluster,
                                server=server,
                                database=database,
                                size_bytes=size,
                                sampled_at=at,
                                source=SampleSource.COLLECTED,
                            )
                        )
                        at += RAW_EVERY
        with transaction.atomic():
            DailySize.objects.bulk_create(daily, batch_size=2000)
            SizeSample.objects.bulk_create(raw, batch_size=2000)
            _current_databases(cluster, raw, servers[0])
            VersionSample.objects.bulk_create(
                VersionSample(
                    dbms_type=cluster.dbms_type,
                    server=s,
                    cluster=cluster,
                    version=s.db_version,
                    version_num=get_module(cluster.dbms_type).parse_version(s.db_version),
                    role=s.role,
                    sampled_at=now - timedelta(days=HISTORY_DAYS),
                    source=SampleSource.PUSHED,
                )
                for s in cluster.servers.all()
                if s.db_version
            )
        loaded += 1
    stdout.write(f"telemetry: size history for {loaded} cluster(s) ({HISTORY_DAYS} days)")


def _current_databases(cluster: Cluster, raw: list[SizeSample], reporter) -> None:
    latest: dict[str, SizeSample] = {}
    for sample in raw:
        if sample.server_id == reporter.pk:
            latest[sample.database] = sample
    first_seen = timezone.now() - timedelta(days=HISTORY_DAYS)
    DatabaseInfo.objects.bulk_create(
        [
            DatabaseInfo(
                cluster=cluster,
                name=name,
                size_bytes=s.size_bytes,
                reported_by=reporter,
                source=SampleSource.COLLECTED,
                first_seen_at=first_seen,
                last_seen_at=s.sampled_at,
            )
            for name, s in latest.items()
        ],
        ignore_conflicts=True,
    )
