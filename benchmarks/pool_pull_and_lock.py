"""Pull-and-lock throughput with 16 concurrent clients: over HTTP, the service in-process, and the
raw SQL floor (one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING), all
in the same run on the same PostgreSQL database.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/rocketdbaas_bench \\
        .venv/bin/python benchmarks/pool_pull_and_lock.py [--clients 16] [--pulls 60] [--servers 4000]
"""

import argparse
import http.client
import random
import sys
import tempfile
import threading
import time
import uuid
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
    percentile,
    psycopg_dsn,
    setup_django,
    web_server,
)

RAW_SQL = """
UPDATE inventory_server
   SET status = 'Locked', reservation_id = %(rid)s, locked_by_id = %(uid)s,
       lease_expires_at = now() + interval '1 hour', updated_at = now()
 WHERE id IN (SELECT id FROM inventory_server
               WHERE dbms_type = 'postgresql' AND status = 'Free'
                 AND cpu >= %(cpu)s AND ram >= %(ram)s AND db_gigs >= %(gigs)s
               ORDER BY cpu, ram, db_gigs, id
               LIMIT %(n)s
               FOR UPDATE SKIP LOCKED)
RETURNING id, name
"""


def run_clients(clients: int, pulls: int, one_pull) -> dict:
    """`clients` threads each doing `pulls` calls of one_pull(client_index, state) -> servers locked."""
    latencies: list[float] = []
    locked = 0
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        nonlocal locked
        state: dict = {}
        mine: list[float] = []
        got = 0
        try:
            barrier.wait()
            for _ in range(pulls):
                t0 = time.perf_counter()
                got += one_pull(i, state)
                mine.append(time.perf_counter() - t0)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            state.get("close", lambda: None)()
            with lock:
                latencies.extend(mine)
                locked += got

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"errors: {errors[:3]}")
    calls = clients * pulls
    return {
        "calls": calls,
        "servers": locked,
        "seconds": elapsed,
        "per_second": calls / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pulls", type=int, default=60, help="pull-and-lock calls per client and mode")
    parser.add_argument("--per-pull", type=int, default=2, help="servers per pull")
    parser.add_argument("--servers", type=int, default=4000, help="pool size")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    needed = args.clients * args.pulls * args.per_pull
    if needed > args.servers:
        sys.exit(f"--servers must be at least clients × pulls × per-pull = {needed}")

    url = bench_database_url()
    fresh_database(url)
    var_dir = tempfile.mkdtemp(prefix="rdb-bench-")
    setup_django(url, var_dir)
    from django.db import connection

    from rocketdbaas.accounts.models import ApiToken, Role, User
    from rocketdbaas.inventory import services
    from rocketdbaas.inventory.models import PoolStatus, Server

    rng = random.Random(42)
    sizes = [(2, 8, 100), (4, 16, 250), (8, 32, 500), (8, 64, 1000), (16, 128, 2000)]
    Server.objects.bulk_create(
        [
            Server(
                name=f"bench-{i:06d}", dbms_type="postgresql", cpu=c, ram=r, db_gigs=g, status=PoolStatus.FREE
            )
            for i, (c, r, g) in ((i, rng.choice(sizes)) for i in range(args.servers))
        ],
        batch_size=2000,
    )
    users = [User.objects.create(username=f"bench-{i}", role=Role.DBA) for i in range(args.clients)]
    tokens = [ApiToken.issue(u, write=True)[1] for u in users]
    query = {"cpu": 4, "ram": 16, "gigs": 250}

    def reset_pool() -> None:
        Server.objects.update(
            status=PoolStatus.FREE, reservation_id=None, locked_by=None, lease_expires_at=None
        )
        with connection.cursor() as c:
            c.execute("VACUUM ANALYZE inventory_server")  # every mode starts from the same clean table

    results = {}
    connection.close()

    # --- raw SQL floor: one statement per pull, autocommit, a connection per client
    reset_pool()
    dsn = psycopg_dsn(url)

    def raw_pull(i: int, state: dict) -> int:
        if "conn" not in state:
            state["conn"] = psycopg.connect(dsn, autocommit=True)
            state["close"] = state["conn"].close
        rows = (
            state["conn"]
            .execute(RAW_SQL, {"rid": uuid.uuid4(), "uid": users[i].pk, "n": args.per_pull, **query})
            .fetchall()
        )
        return len(rows)

    results["raw SQL (psycopg)"] = run_clients(args.clients, args.pulls, raw_pull)

    # --- the service in-process: what the API calls, with its transaction and audit rows
    reset_pool()

    def service_pull(i: int, state: dict) -> int:
        state["close"] = connection.close
        r = services.pull_and_lock(
            "postgresql",
            args.per_pull,
            cpu=query["cpu"],
            ram=query["ram"],
            db_gigs=query["gigs"],
            user=users[i],
        )
        return len(r.servers)

    results["service in-process"] = run_clients(args.clients, args.pulls, service_pull)
    connection.close()

    # --- over HTTP: gunicorn (threads) + the full stack, one keep-alive connection per client
    reset_pool()
    connection.close()
    port = free_port()
    path = f"/api/postgresql/poolServersPullAndLock/{args.per_pull}?cpu={query['cpu']}&ram={query['ram']}&dbGigs={query['gigs']}"
    with web_server(port, args.web_workers, args.web_threads, var_dir):

        def http_pull(i: int, state: dict) -> int:
            if "http" not in state:
                state["http"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                state["close"] = state["http"].close
            state["http"].request("POST", path, headers={"Authorization": f"Bearer {tokens[i]}"})
            response = state["http"].getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status} {body[:200]!r}")
            return args.per_pull

        results[f"HTTP ({args.web_workers} gunicorn workers × {args.web_threads} threads)"] = run_clients(
            args.clients, args.pulls, http_pull
        )

    locked = Server.objects.filter(status=PoolStatus.LOCKED).count()
    floor = results["raw SQL (psycopg)"]["per_second"]
    print(f"machine: {machine()}")
    print(
        f"pool: {args.servers} servers; {args.clients} concurrent clients × {args.pulls} pulls of "
        f"{args.per_pull} servers each, per mode (cpu>={query['cpu']}, ram>={query['ram']}, dbGigs>={query['gigs']})"
    )
    print()
    print("| mode | pulls/s | p50 ms | p95 ms | servers locked | × raw SQL time |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, r in results.items():
        print(
            f"| {mode} | {r['per_second']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['servers']} | "
            f"{floor / r['per_second']:.1f} |"
        )
    assert locked == results[next(reversed(results))]["servers"], "the last mode's locks are all there"
    connection.close()
    if not args.keep:
        drop_database(url)


if __name__ == "__main__":
    main()
