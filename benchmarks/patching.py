"""Benchmark: a rolling patch run over 100 servers in 25 clusters (results in docs/benchmarks/patching.md).

Each cluster has a primary and three replicas, each in its own application (so the "one cluster
per application at a time" rule does not serialise them). The recipe is `true` on the local
executor, the batch plan [1, "25%", "100%"] (1 canary cluster, then 7, then the other 17), and
the run is executed in this process by the same orchestrator a worker runs, with the default
settings (8 clusters in parallel, output flushed every 0.5 s, 60 s leases).

The 100 servers do not exist, so the DBMS probes (roles, versions, health) answer from memory
instantly: a server reports the target version once its recipe command has really run. What is
measured is therefore the orchestration itself (database writes, leases, threads, subprocesses,
the ledger, activities, inventory updates), next to the ideal: the time the `true` commands
themselves take on the run's critical path.

Usage:
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/rdb_patch_bench \\
        .venv/bin/python benchmarks/patching.py [--parallel 8] [--repeat 3] [--sqlite]
"""

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from benchmarks._common import bench_database_url, fresh_database, machine, median, percentile  # noqa: E402

CLUSTERS = 25
SERVERS_PER_CLUSTER = 4
BATCHES = [1, "25%", "100%"]
TARGET = "16.9"


def setup(sqlite: bool) -> str:
    var_dir = tempfile.mkdtemp(prefix="rdb-patch-bench-")
    if sqlite:
        url = f"sqlite:///{var_dir}/bench.sqlite3"
    else:
        url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rdb_patch_bench")
        os.environ["BENCH_DATABASE_URL"] = url
        fresh_database(bench_database_url())
    os.environ["DATABASE_URL"] = url
    os.environ["ROCKETDBAAS_VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rocketdbaas.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


class SimulatedFleet:
    """Roles, versions and health from memory; a server is at the target once its recipe ran."""

    def __init__(self):
        self.patched: set[tuple[str, int]] = set()
        self.command_seconds: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()

    def install(self) -> None:
        from rocketdbaas.dbms import postgresql
        from rocketdbaas.dbms.base import ClusterHealth, ServerState
        from rocketdbaas.patching.executors.local import LocalExecutor

        fleet = self
        run_shell = LocalExecutor.run_shell

        def check_cluster_health(members, limits):
            health = ClusterHealth()
            for name, target in members:
                role = "primary" if name.endswith("-1") else "replica"
                with fleet.lock:
                    version = TARGET if (target.host, target.port) in fleet.patched else "16.8"
                health.states[name] = ServerState(reachable=True, role=role, version=version)
                if role == "primary":
                    health.primary = name
            return health

        def timed_run_shell(self, command, *, timeout, on_output=None):
            started = time.perf_counter()
            result = run_shell(self, command, timeout=timeout, on_output=on_output)
            elapsed = time.perf_counter() - started
            key = (self.host.address, int(self.host.variables["port"]))
            with fleet.lock:
                fleet.patched.add(key)
                fleet.command_seconds[key] = elapsed
            return result

        postgresql.check_cluster_health = check_cluster_health
        LocalExecutor.run_shell = timed_run_shell


def load_fleet() -> None:
    from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
    from rocketdbaas.patching.models import PatchRecipe

    for c in range(1, CLUSTERS + 1):
        app = Application.objects.create(name=f"app-{c:02d}")
        cluster = Cluster.objects.create(name=f"pg-{c:02d}", dbms_type="postgresql", application=app)
        Server.objects.bulk_create(
            Server(
                name=f"pg-{c:02d}-{s}",
                dbms_type="postgresql",
                cpu=4,
                ram=16,
                db_gigs=100,
                host=f"10.0.{c}.{s}",
                port=5432,
                status=PoolStatus.USED,
                cluster=cluster,
                role="primary" if s == 1 else "replica",
                db_version="16.8",
            )
            for s in range(1, SERVERS_PER_CLUSTER + 1)
        )
    PatchRecipe.objects.create(
        name="noop", dbms_type="postgresql", patch_type="DB", executor="local", command="true"
    )


def one_run(fleet: SimulatedFleet, parallel: int) -> dict:
    from django.db.models import F

    from rocketdbaas.patching import services
    from rocketdbaas.patching.models import PatchRun, PatchStep, RunStatus
    from rocketdbaas.patching.orchestrator import RunOrchestrator

    fleet.patched.clear()
    fleet.command_seconds.clear()
    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql",
            patch_type="DB",
            patch_version=TARGET,
            recipe="noop",
            selector=True,
            batches=BATCHES,
            max_failures=1,
        )
    )
    started = time.perf_counter()
    status = RunOrchestrator(run.pk).execute()
    wall = time.perf_counter() - started
    assert status == RunStatus.SUCCEEDED, PatchRun.objects.get(pk=run.pk).reason

    steps = list(
        PatchStep.objects.filter(run=run).annotate(host=F("server__host")).select_related("run_cluster")
    )
    assert len(steps) == CLUSTERS * SERVERS_PER_CLUSTER and all(s.outcome == "succeeded" for s in steps)
    command = {s.pk: fleet.command_seconds[(s.host, 5432)] for s in steps}
    # Ideal: the commands alone, clusters of a batch side by side, servers of a cluster one by one.
    per_cluster: dict[int, float] = {}
    batch_of: dict[int, int] = {}
    for s in steps:
        per_cluster[s.run_cluster_id] = per_cluster.get(s.run_cluster_id, 0.0) + command[s.pk]
        batch_of[s.run_cluster_id] = s.batch
    batches = sorted(set(batch_of.values()))
    longest = {b: max(t for rc, t in per_cluster.items() if batch_of[rc] == b) for b in batches}
    size = {b: sum(1 for rc in batch_of if batch_of[rc] == b) for b in batches}
    ideal = sum(longest.values())
    # The same, when at most `parallel` clusters run at once (batches larger than that take waves).
    ideal_at_parallel = sum(longest[b] * -(-size[b] // parallel) for b in batches)
    overhead = [(s.finished_at - s.started_at).total_seconds() - command[s.pk] for s in steps]
    # Steps on the critical path: a cluster's servers per wave of clusters in each batch.
    critical_steps = sum(SERVERS_PER_CLUSTER * -(-size[b] // parallel) for b in batches)
    # Reset the inventory so the next repetition patches again.
    from rocketdbaas.inventory.models import Server

    Server.objects.update(db_version="16.8")
    return {
        "wall": wall,
        "ideal": ideal,
        "ideal_at_parallel": ideal_at_parallel,
        "serial_commands": sum(command.values()),
        "per_critical_step": (wall - ideal_at_parallel) / critical_steps,
        "step_overhead_median": median(overhead),
        "step_overhead_p95": percentile(overhead, 95),
        "batches": [size[b] for b in batches],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parallel", type=int, default=8, help="PATCH_MAX_PARALLEL_CLUSTERS (default 8)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="Use a scratch SQLite database instead")
    args = parser.parse_args()
    setup(args.sqlite)
    from django.conf import settings

    settings.PATCH_MAX_PARALLEL_CLUSTERS = args.parallel
    fleet = SimulatedFleet()
    fleet.install()
    load_fleet()
    results = [one_run(fleet, args.parallel) for _ in range(args.repeat)]
    database = "SQLite" if args.sqlite else "PostgreSQL"
    where = (
        machine()
        if not args.sqlite
        else f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"machine: {where} · database: {database} · load average {os.getloadavg()[0]:.1f}")
    print(
        f"{CLUSTERS * SERVERS_PER_CLUSTER} servers in {CLUSTERS} clusters, batches {BATCHES} "
        f"-> clusters per batch {results[0]['batches']}, {args.parallel} clusters in parallel, recipe `true`"
    )
    print(
        "run  wall s  ideal s  ideal at parallelism s  all commands s  overhead per critical-path step s  "
        "per-step overhead median / p95 s"
    )
    for i, r in enumerate(results, 1):
        print(
            f"{i:>3}  {r['wall']:6.2f}  {r['ideal']:7.3f}  {r['ideal_at_parallel']:22.3f}  {r['serial_commands']:14.3f}  "
            f"{r['per_critical_step']:33.3f}  {r['step_overhead_median']:.3f} / {r['step_overhead_p95']:.3f}"
        )
    print(
        f"median wall {median([r['wall'] for r in results]):.2f} s, ideal {median([r['ideal'] for r in results]):.3f} s"
    )


if __name__ == "__main__":
    main()
