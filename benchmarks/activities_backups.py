"""Benchmark: downtime and backup roll-off at fleet scale, on PostgreSQL.

Loads 2,000 PostgreSQL clusters (4,000 servers), 1,000,000 activities (about 50,000 outages as
Down/Up pairs, 10,000 corrections, the rest patch/backup/restart noise over two years) and
500,000 backups (weekly fulls with daily incrementals, a few failed, a few pinned) with
generate_series, then times:

- downtime of one cluster for one month (downtime_for_clusters with one id),
- downtime of all 2,000 clusters for one month (one windowed query, streamed),
- a roll-off dry run over every cluster (keep 4 fulls), as the API runs it (counts and the
  first 1,000 items) and as the CLI does (every item),
- the first page of the activity list with each event's latest ticket (count + page).

Usage (a throwaway database; it is created if missing and reloaded unless --reuse):
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/rdb_audit_bench \\
        .venv/bin/python benchmarks/activities_backups.py [--reuse] [--repeat 5]
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime

CLUSTERS = 2_000
ACTIVITIES = 1_000_000
OUTAGES = 50_000
OPEN_EVERY = 2_500  # one outage in this many is still open
CORRECTIONS = 10_000
BACKUPS_PER_CLUSTER = 250  # 2,000 x 250 = 500,000
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
SPAN_DAYS = 730


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def load() -> None:
    from django.db import connection, transaction

    from rocketdbaas.backups.services import set_policy
    from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE activities_activity, backups_backup, backups_retentionpolicy, "
            "inventory_server, inventory_cluster, inventory_application RESTART IDENTITY CASCADE"
        )
    with transaction.atomic():
        app = Application.objects.create(name="bench")
        clusters = Cluster.objects.bulk_create(
            Cluster(name=f"bench-{i:04}", dbms_type="postgresql", application=app) for i in range(CLUSTERS)
        )
        Server.objects.bulk_create(
            Server(
                name=f"bench-{i:04}-{k}",
                dbms_type="postgresql",
                cpu=8,
                ram=64,
                db_gigs=500,
                status=PoolStatus.USED,
                cluster=cluster,
                role="primary" if k == 1 else "replica",
            )
            for i, cluster in enumerate(clusters)
            for k in (1, 2)
        )
    # The default policy roll-off uses; the activity it writes counts toward the total.
    set_policy(
        dbms_type="postgresql",
        cluster=None,
        keep_fulls=4,
        recovery_window_days=None,
        min_fulls=2,
        failed_keep_days=14,
        user=None,
    )
    params = {
        "now": NOW,
        "span": SPAN_DAYS * 86400,
        "outages": OUTAGES,
        "open_every": OPEN_EVERY,
        "clusters": CLUSTERS,
    }
    statements = [
        # Cluster number n -> id, and its first server, for the generators below.
        """CREATE TEMP TABLE bench_clusters AS
           SELECT c.id, row_number() OVER (ORDER BY c.id) - 1 AS n,
                  (SELECT min(s.id) FROM inventory_server s WHERE s.cluster_id = c.id) AS server_id
           FROM inventory_cluster c""",
        # Outages: a Down and (most of the time) its Up; a quarter name a server.
        """WITH o AS MATERIALIZED (
             SELECT g, c.id AS cluster_id, CASE WHEN g %% 4 = 0 THEN c.server_id END AS server_id,
                    %(now)s::timestamptz - random() * %(span)s * interval '1 second' AS down_at,
                    (5 + random() * 235) * interval '1 minute' AS dur,
                    random() < 0.35 AS planned
             FROM generate_series(1, %(outages)s) g JOIN bench_clusters c ON c.n = g %% %(clusters)s)
           INSERT INTO activities_activity (dbms_type, type, cluster_id, server_id, occurred_at, planned,
                  ticket_url, summary, details, request_id, created_at)
           SELECT 'postgresql', 'Down', cluster_id, server_id, down_at, planned,
                  CASE WHEN NOT planned AND g %% 2 = 0 THEN 'https://tickets.example.com/INC-' || g ELSE '' END,
                  'outage', '{}'::jsonb, '', now() FROM o
           UNION ALL
           SELECT 'postgresql', 'Up', cluster_id, server_id, least(down_at + dur, %(now)s), planned, '',
                  'restored', '{}'::jsonb, '', now() FROM o WHERE g %% %(open_every)s <> 0""",
    ]
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql, params)
        cur.execute("SELECT count(*) FROM activities_activity")
        (so_far,) = cur.fetchone()
        noise = ACTIVITIES - so_far - CORRECTIONS
        cur.execute(
            """INSERT INTO activities_activity (dbms_type, type, cluster_id, server_id, occurred_at, planned,
                      ticket_url, summary, details, request_id, created_at)
               SELECT 'postgresql',
                      (ARRAY['Patch','Backup','DbRestart','ServerRestart','Maintenance','Switchover',
                             'Failover','ClusterChange','Other'])[1 + g %% 9],
                      c.id, CASE WHEN g %% 3 = 0 THEN c.server_id END,
                      %(now)s::timestamptz - random() * %(span)s * interval '1 second',
                      g %% 5 <> 0, '', 'routine work', '{}'::jsonb, '', now()
               FROM generate_series(1, %(noise)s) g JOIN bench_clusters c ON c.n = g %% %(clusters)s""",
            {**params, "noise": noise},
        )
        # Corrections: tickets linked later, some outages re-marked as planned.
        cur.execute(
            """INSERT INTO activities_activity (dbms_type, type, cluster_id, server_id, occurred_at, planned,
                      ticket_url, summary, details, request_id, created_at, corrects_id)
               SELECT 'postgresql', 'Correction', d.cluster_id, d.server_id, d.occurred_at + interval '1 day',
                      CASE WHEN d.id %% 5 = 0 THEN true END,
                      'https://tickets.example.com/PRB-' || d.id, 'ticket linked', '{}'::jsonb, '', now(), d.id
               FROM (SELECT * FROM activities_activity WHERE type = 'Down' ORDER BY random() LIMIT %(n)s) d""",
            {"n": CORRECTIONS},
        )
        # Backups: per cluster a full every 7th day with incrementals chained on it; the last
        # incremental of a week fails now and then (nothing depends on it); a few pinned.
        cur.execute(
            """INSERT INTO backups_backup (id, dbms_type, cluster_id, label, repository, tool, backup_type,
                      status, db_size_gigs, bkup_size_gigs, started_at, stopped_at, depends_on_id, pinned,
                      expire_reason, details, created_at, updated_at)
               SELECT c.n * %(per)s + k + 1, 'postgresql', c.id, 'B' || k, 'repo1', 'pgbackrest',
                      CASE WHEN k %% 7 = 0 THEN 'full' ELSE 'incremental' END,
                      CASE WHEN k %% 7 = 6 AND random() < 0.05 THEN 'failed' ELSE 'succeeded' END,
                      500, CASE WHEN k %% 7 = 0 THEN 120 ELSE 6 END,
                      %(now)s::timestamptz - (%(per)s - k) * interval '1 day',
                      %(now)s::timestamptz - (%(per)s - k) * interval '1 day' + interval '1 hour',
                      CASE WHEN k %% 7 <> 0 THEN c.n * %(per)s + k END,
                      k = 30 AND c.n %% 50 = 0, '', '{}'::jsonb, now(), now()
               FROM bench_clusters c CROSS JOIN generate_series(0, %(per)s - 1) k""",
            {"now": NOW, "per": BACKUPS_PER_CLUSTER},
        )
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('backups_backup', 'id'), max(id)) FROM backups_backup"
        )
        cur.execute("ANALYZE activities_activity")
        cur.execute("ANALYZE backups_backup")


def timed(label: str, fn, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, result = [], None
    with CaptureQueriesContext(connection) as queries:
        result = fn()
    first_queries = len(queries)
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return {
        "label": label,
        "median_ms": statistics.median(times) * 1000,
        "min_ms": min(times) * 1000,
        "max_ms": max(times) * 1000,
        "queries": first_queries,
        "result": result,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reuse", action="store_true", help="Keep the loaded data of a previous run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("Set DATABASE_URL to a throwaway PostgreSQL database.", file=sys.stderr)
        return 2
    ensure_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rocketdbaas.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from rocketdbaas.activities.models import Activity
    from rocketdbaas.activities.services import downtime_for_clusters, filtered_activities, month_bounds
    from rocketdbaas.backups.models import Backup
    from rocketdbaas.backups.services import roll_off_backups
    from rocketdbaas.inventory.models import Cluster

    call_command("migrate", verbosity=0)
    if not args.reuse or not Backup.objects.exists():
        started = time.perf_counter()
        load()
        print(f"loaded in {time.perf_counter() - started:.1f} s")
    print(
        f"{Cluster.objects.count():,} clusters, {Activity.objects.count():,} activities "
        f"({Activity.objects.filter(type__in=['Down', 'Up']).count():,} Down/Up), "
        f"{Backup.objects.count():,} backups"
    )

    start, end = month_bounds("2026-10")
    one = Cluster.objects.order_by("pk").values_list("pk", flat=True)[CLUSTERS // 2]
    runs = [
        timed(
            "downtime, one cluster, one month",
            lambda: downtime_for_clusters("postgresql", start, end, [one], now=NOW),
            args.repeat * 4,
        ),
        timed(
            "downtime, all 2,000 clusters, one month",
            lambda: downtime_for_clusters("postgresql", start, end, now=NOW),
            args.repeat,
        ),
        timed(
            "roll-off dry run, all clusters (API: counts + first 1,000 items)",
            lambda: roll_off_backups("postgresql", dry_run=True, now=NOW, max_items=1000),
            args.repeat,
        ),
        timed(
            "roll-off dry run, all clusters, every item kept (CLI)",
            lambda: roll_off_backups("postgresql", dry_run=True, now=NOW),
            args.repeat,
        ),
        timed(
            "activity list, first 100 with latest ticket + count",
            lambda: (lambda qs: (qs.count(), list(qs[:100])))(filtered_activities("postgresql", None)),
            args.repeat * 4,
        ),
    ]
    print()
    print("| measurement | median | min | max | queries |")
    print("|---|---:|---:|---:|---:|")
    for r in runs:
        print(
            f"| {r['label']} | {r['median_ms']:.0f} ms | {r['min_ms']:.0f} ms | {r['max_ms']:.0f} ms | {r['queries']} |"
        )
    downtime_all = runs[1]["result"]
    report = runs[3]["result"]
    down = [r for r in downtime_all if r.downtime_minutes]
    print()
    print(
        f"downtime: {len(downtime_all):,} clusters, {len(down):,} with downtime in 2026-10, "
        f"mean overall availability {statistics.mean(r.overall_availability for r in downtime_all):.5f}, "
        f"{sum(r.ongoing for r in downtime_all)} ongoing"
    )
    print(
        f"roll-off dry run: {report.clusters_checked:,} clusters checked, {report.expire_count:,} backups "
        f"would expire ({report.reclaimed_gigs:,.0f} GiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
