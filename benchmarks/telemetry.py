"""Telemetry benchmarks (results in docs/benchmarks/telemetry.md).

1. Collection: 200 server entries pointing at the local PostgreSQL instances (the machine's
   server on 5432 plus a primary and a streaming replica started here), probed with a pool of
   16 and sequentially; then a whole collection run (probes + recording) with the pool.
2. The size-series query for one cluster of 2,000 databases over a year of hourly samples,
   stored as the retention policy keeps them (raw for the last 30 days, daily rollups before),
   and, with --raw-year on PostgreSQL, as 17.5 million raw rows with no retention at all.
3. Retention: folding one day of hourly samples of the 2,000 databases into daily rollups.

Runs against a scratch database it creates (and drops unless --keep):
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/rdb_telemetry_bench \\
        .venv/bin/python benchmarks/telemetry.py [--raw-year] [--keep]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rdb_telemetry_bench")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rocketdbaas.settings")

SERVERS = 200
WORKERS = 16
DATABASES = 2000
RAW_DAYS = 30
YEAR_DAYS = 365


def _pg_admin_dsn() -> tuple[str, str]:
    import environ

    cfg = environ.Env.db_url_config(BENCH_URL)
    dsn = f"host={cfg['HOST'] or '127.0.0.1'} port={cfg['PORT'] or 5432} user={cfg['USER']} dbname=postgres"
    return dsn, cfg["NAME"]


def create_database() -> None:
    if not BENCH_URL.startswith("postgres"):
        return
    import psycopg

    dsn, name = _pg_admin_dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    if not BENCH_URL.startswith("postgres"):
        return
    import psycopg

    dsn, name = _pg_admin_dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_collection() -> None:
    from tests.support.pg import PgCluster, pg_available

    from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
    from rocketdbaas.telemetry import services
    from rocketdbaas.telemetry.models import RunTrigger

    pg = PgCluster(replicas=1) if pg_available() else None
    try:
        if pg:
            pg.wait_replicas_streaming()
        ports = [5432] + ([pg.primary.port, pg.replicas[0].port] if pg else [])
        app = Application.objects.create(name="bench-telemetry")
        servers = []
        for i in range(SERVERS // 2):
            cluster = Cluster.objects.create(
                name=f"bench-pg-{i:03d}", dbms_type="postgresql", application=app
            )
            for j in range(2):
                servers.append(
                    Server(
                        name=f"bench-pg-{i:03d}-{j}",
                        dbms_type="postgresql",
                        cpu=2,
                        ram=4,
                        db_gigs=50,
                        host="127.0.0.1",
                        port=ports[(2 * i + j) % len(ports)],
                        status=PoolStatus.USED,
                        cluster=cluster,
                    )
                )
        Server.objects.bulk_create(servers)
        servers = list(services.servers_in_scope(dbms_type="postgresql"))
        print(f"collection: {len(servers)} server entries over {len(ports)} local instances (ports {ports})")
        sequential, probed = timed(lambda: services.probe_servers(servers, workers=1))
        assert all(p.state.reachable for p in probed), {p.state.error for p in probed}
        pooled, _ = timed(lambda: services.probe_servers(servers, workers=WORKERS))
        print(
            f"  probes, sequential:        {sequential:6.2f} s ({sequential / len(servers) * 1000:.1f} ms/server)"
        )
        print(f"  probes, pool of {WORKERS}:        {pooled:6.2f} s ({sequential / pooled:.1f}x faster)")
        full, run = timed(
            lambda: services.collect(trigger=RunTrigger.CLI, dbms_type="postgresql", workers=WORKERS)
        )
        print(
            f"  collect() with recording:  {full:6.2f} s "
            f"({run.servers_ok} ok, {run.servers_failed} failed, median of 3 runs)"
        )
    finally:
        if pg:
            pg.destroy()


def _fill_series(cluster, server, now: datetime, raw_year: bool) -> tuple[int, int]:
    """Insert the samples in SQL (millions of rows through the ORM would measure the ORM)."""
    from django.db import connection

    raw_days = YEAR_DAYS if raw_year else RAW_DAYS
    raw_start = now - timedelta(days=raw_days)
    first_day = (now - timedelta(days=YEAR_DAYS)).date()
    daily_days = 0 if raw_year else YEAR_DAYS - RAW_DAYS
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                """
                INSERT INTO telemetry_sizesample (dbms_type, cluster_id, server_id, database, size_bytes, sampled_at, source)
                SELECT 'postgresql', %s, %s, 'db' || lpad(d::text, 4, '0'), 1000000000 + d * 100000 + h * 1000,
                       %s + h * interval '1 hour', 'collected'
                FROM generate_series(0, %s - 1) d, generate_series(0, %s - 1) h
                """,
                [cluster.pk, server.pk, raw_start, DATABASES, raw_days * 24],
            )
            cur.execute(
                """
                INSERT INTO telemetry_dailysize (dbms_type, cluster_id, server_id, database, day, max_bytes, avg_bytes, samples)
                SELECT 'postgresql', %s, %s, 'db' || lpad(d::text, 4, '0'), %s::date + g,
                       1000000000 + d * 100000 + g * 24000, 1000000000 + d * 100000 + g * 24000 - 12000, 24
                FROM generate_series(0, %s - 1) d, generate_series(0, %s - 1) g
                """,
                [cluster.pk, server.pk, first_day, DATABASES, daily_days],
            )
            cur.execute("ANALYZE telemetry_sizesample; ANALYZE telemetry_dailysize")
        else:
            cur.execute(
                """
                WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < %s - 1),
                               h(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM h WHERE n < %s - 1)
                INSERT INTO telemetry_sizesample (dbms_type, cluster_id, server_id, database, size_bytes, sampled_at, source)
                SELECT 'postgresql', %s, %s, printf('db%%04d', d.n), 1000000000 + d.n * 100000 + h.n * 1000,
                       datetime(%s, '+' || h.n || ' hours'), 'collected'
                FROM d, h
                """,
                [DATABASES, raw_days * 24, cluster.pk, server.pk, raw_start.strftime("%Y-%m-%d %H:%M:%S")],
            )
            cur.execute(
                """
                WITH RECURSIVE d(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM d WHERE n < %s - 1),
                               g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < %s - 1)
                INSERT INTO telemetry_dailysize (dbms_type, cluster_id, server_id, database, day, max_bytes, avg_bytes, samples)
                SELECT 'postgresql', %s, %s, printf('db%%04d', d.n), date(%s, '+' || g.n || ' days'),
                       1000000000 + d.n * 100000 + g.n * 24000, 1000000000 + d.n * 100000 + g.n * 24000 - 12000, 24
                FROM d, g WHERE %s > 0
                """,
                [DATABASES, max(daily_days, 1), cluster.pk, server.pk, first_day.isoformat(), daily_days],
            )
            cur.execute("ANALYZE")
    return DATABASES * raw_days * 24, DATABASES * daily_days


def bench_series(raw_year: bool) -> None:
    from django.db import connection

    from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
    from rocketdbaas.telemetry import services
    from rocketdbaas.telemetry.models import DailySize, SizeSample

    SizeSample.objects.all().delete()
    DailySize.objects.all().delete()
    name = "bench-series-raw" if raw_year else "bench-series"
    app, _ = Application.objects.get_or_create(name="bench-telemetry")
    cluster = Cluster.objects.create(name=name, dbms_type="postgresql", application=app)
    server = Server.objects.create(
        name=f"{name}-0",
        dbms_type="postgresql",
        cpu=2,
        ram=4,
        db_gigs=50,
        status=PoolStatus.USED,
        cluster=cluster,
    )
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = time.perf_counter()
    raw_rows, daily_rows = _fill_series(cluster, server, now, raw_year)
    layout = (
        "raw hourly for the whole year" if raw_year else f"raw hourly for {RAW_DAYS} days + daily rollups"
    )
    print(
        f"series: 1 cluster, {DATABASES} databases, a year stored as {layout}: "
        f"{raw_rows:,} raw + {daily_rows:,} daily rows ({connection.vendor}, loaded in {time.perf_counter() - start:.0f} s)"
    )
    year = (now - timedelta(days=YEAR_DAYS), now)
    for bucket, window in (
        ("day", year),
        ("week", year),
        ("month", year),
        ("hour", (now - timedelta(days=7), now)),
    ):
        seconds, series = timed(lambda b=bucket, w=window: services.size_series(cluster, *w, b))
        points = sum(len(d["points"]) for d in series["databases"])
        span = "last 7 days" if bucket == "hour" else "1 year"
        print(
            f"  bucket={bucket:<5} over {span:<11}: {seconds:6.2f} s, {points:,} points + {len(series['total'])} totals"
        )

    if not raw_year:
        day = (now - timedelta(days=RAW_DAYS + 1)).date()
        SizeSample.objects.bulk_create(
            SizeSample(
                dbms_type="postgresql",
                cluster=cluster,
                server=server,
                database=f"db{d:04d}",
                size_bytes=10**9,
                sampled_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=h),
                source="collected",
            )
            for d in range(DATABASES)
            for h in range(24)
        )
        start = time.perf_counter()
        folded = services._fold_day(day)
        print(
            f"retention: folded one day ({folded:,} raw samples) into daily rollups in {time.perf_counter() - start:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--raw-year", action="store_true", help="Also a year of raw hourly samples (17.5M rows)"
    )
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database")
    parser.add_argument("--only", choices=["collection", "series"], help="Run one part")
    args = parser.parse_args()

    create_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']}); {os.cpu_count()} CPUs")
    try:
        if args.only in (None, "collection"):
            bench_collection()
        if args.only in (None, "series"):
            bench_series(raw_year=False)
            if args.raw_year:
                bench_series(raw_year=True)
    finally:
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()
