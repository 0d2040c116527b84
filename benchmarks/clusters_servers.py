"""`GET /api/{dbmsType}/clustersServers` for a fleet of 10,000 servers in 2,000 clusters, next to
the floor: the same rows with raw SQL (psycopg) and JSON encoding. On PostgreSQL.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/rocketdbaas_bench \\
        .venv/bin/python benchmarks/clusters_servers.py [--clusters 2000] [--per-cluster 5] [--repeat 7]
"""

import argparse
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import psycopg
from _common import (
    bench_database_url,
    drop_database,
    free_port,
    fresh_database,
    machine,
    median,
    psycopg_dsn,
    setup_django,
    web_server,
)

RAW_SQL = """
SELECT s.name, s.dbms_type, c.name, a.name, c.environment, s.role, COALESCE(NULLIF(s.host, ''), s.name),
       s.port, s.datacenter, s.cpu, s.ram, s.db_gigs, s.os_version, s.db_version, c.db_version, c.topology
  FROM inventory_server s
  JOIN inventory_cluster c ON c.id = s.cluster_id
  JOIN inventory_application a ON a.id = c.application_id
 WHERE s.dbms_type = 'postgresql' AND s.status = 'Used' AND c.status = 'active'
 ORDER BY c.name, s.name
"""
KEYS = (
    "serverName", "dbmsType", "cluster", "application", "environment", "role", "host", "port",
    "datacenter", "cpu", "ram", "dbGigs", "osVersion", "dbVersion", "clusterDbVersion", "topology",
)  # fmt: skip


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up: caches and connections, so every contender starts warm
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return median(times) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--per-cluster", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    url = bench_database_url()
    fresh_database(url)
    var_dir = tempfile.mkdtemp(prefix="rdb-bench-")
    setup_django(url, var_dir)
    from django.db import connection

    from rocketdbaas.accounts.models import ApiToken, Role, User
    from rocketdbaas.inventory import services

    # Load the fleet the way a team would: POST clustersServers (register), 200 clusters per call.
    roles = ["primary"] + ["replica"] * (args.per_cluster - 1)
    t0 = time.perf_counter()
    for start in range(0, args.clusters, 200):
        services.register_clusters_servers(
            "postgresql",
            [
                services.ClusterRegistration(
                    application=services.ApplicationSpec(f"app-{i % 150:03d}"),
                    cluster=services.ClusterSpec(
                        f"pg-{i:05d}", environment=("prod", "uat", "dev")[i % 3], db_version="16.4"
                    ),
                    servers=[
                        services.ServerSpec(
                            server_name=f"pg-{i:05d}-{j}.dc{j % 3 + 1}.example.internal",
                            role=role,
                            cpu=8,
                            ram=64,
                            db_gigs=1000,
                            port=5432,
                            datacenter=f"dc{j % 3 + 1}",
                            os_version="RHEL 9.4",
                            db_version="16.4",
                        )
                        for j, role in enumerate(roles)
                    ],
                )
                for i in range(start, min(start + 200, args.clusters))
            ],
        )
    load_seconds = time.perf_counter() - t0
    servers = args.clusters * args.per_cluster
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")
    token = ApiToken.issue(User.objects.create(username="bench", role=Role.DBA))[1]
    connection.close()

    dsn = psycopg_dsn(url)
    with psycopg.connect(dsn) as conn:

        def raw() -> bytes:
            rows = conn.execute(RAW_SQL).fetchall()
            return json.dumps(
                {"count": len(rows), "items": [dict(zip(KEYS, r, strict=True)) for r in rows]}
            ).encode()

        raw_ms, raw_body = timed(raw, args.repeat)

    def service() -> bytes:
        rows = services.active_servers("postgresql")
        return json.dumps({"count": len(rows), "items": rows}).encode()

    service_ms, service_body = timed(service, args.repeat)
    assert json.loads(service_body) == json.loads(raw_body), "the service and the floor return the same rows"
    connection.close()

    port = free_port()
    with web_server(port, 2, 4, var_dir):
        http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def get(query: str) -> bytes:
            http_conn.request(
                "GET",
                f"/api/postgresql/clustersServers/{query}",
                headers={"Authorization": f"Bearer {token}"},
            )
            response = http_conn.getresponse()
            body = response.read()
            assert response.status == 200, body[:200]
            return body

        http_ms, http_body = timed(lambda: get(""), args.repeat)
        ansible_ms, ansible_body = timed(lambda: get("?format=ansible"), args.repeat)
        http_conn.close()
    assert json.loads(http_body)["count"] == servers

    print(f"machine: {machine()}")
    print(
        f"fleet: {servers} Used servers in {args.clusters} active clusters; loaded with POST clustersServers "
        f"in {load_seconds:.1f} s; median of {args.repeat} runs"
    )
    print()
    print("| what | median ms | response bytes | × floor |")
    print("|---|---:|---:|---:|")
    for what, ms, body in (
        ("raw SQL + json.dumps (floor)", raw_ms, raw_body),
        ("service in-process + json.dumps", service_ms, service_body),
        ("GET clustersServers over HTTP", http_ms, http_body),
        ("GET clustersServers?format=ansible over HTTP", ansible_ms, ansible_body),
    ):
        print(f"| {what} | {ms:.0f} | {len(body):,} | {ms / raw_ms:.1f} |")
    if not args.keep:
        drop_database(url)


if __name__ == "__main__":
    main()
