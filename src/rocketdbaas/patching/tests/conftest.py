"""Fixtures for patching tests: real PostgreSQL clusters registered in the inventory, and a
recipe that really patches them (a config change that only a restart applies).

The "version" these recipes patch is a custom setting, rocketdbaas.patch_level, that the
recipe appends to postgresql.conf before restarting the server with pg_ctl; the version command
reads it back from the running server. So a server is at the target only if it was restarted
after the change.
"""

import os
import threading

import pytest
from tests.support.pg import PG_BIN, PgCluster, pg_available
from tests.support.services import require_service

from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.patching.models import ClusterPatchSettings, ExecutorKind, PatchRecipe, PatchType

FAST = {
    "PATCH_POLL_SECONDS": 0.05,
    "PATCH_VERIFY_POLL_SECONDS": 0.1,
    "PATCH_OUTPUT_FLUSH_SECONDS": 0.0,
    "PATCH_LEASE_SECONDS": 30,
}

AS_POSTGRES = "runuser -u postgres --" if os.geteuid() == 0 else ""

VERSION_COMMAND = (
    "{psql} -h {host} -p {port} -U postgres -d postgres -Atc "
    "\"SELECT coalesce(current_setting('rocketdbaas.patch_level', true), 'none')\""
)
PATCH_COMMAND = (
    'echo "patching {server} ({role_hint}) to {version}"; '
    "printf \"rocketdbaas.patch_level = '%s'\\n\" {version} >> {datadir}/postgresql.conf && "
    "{as_postgres} {pg_ctl} -D {datadir} -l {logfile} -m fast -w -t 60 restart >/dev/null && "
    'echo "restarted {server}"'
)


@pytest.fixture(autouse=True)
def fast_patching(settings):
    for name, value in FAST.items():
        setattr(settings, name, value)


def build_pg_cluster(replicas: int = 1) -> PgCluster:
    require_service(pg_available(), "PostgreSQL server binaries (initdb) are not installed")
    # A replica reconnects to a restarted primary within 200ms instead of 5s.
    cluster = PgCluster(replicas=replicas, extra_conf={"wal_retrieve_retry_interval": "'200ms'"})
    cluster.wait_replicas_streaming()
    return cluster


@pytest.fixture(scope="module")
def pg_pair():
    """A primary and one streaming replica, shared by a module's tests (each test patches it
    to a version of its own)."""
    cluster = build_pg_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


def register_pg_cluster(pg: PgCluster, name: str, app: str = "billing", *, swap_inventory_roles: bool = True):
    """Put a PgCluster in the inventory. With swap_inventory_roles the inventory says the
    replica is the primary and vice versa, so tests prove roles come from the live servers."""
    application, _ = Application.objects.get_or_create(name=app)
    cluster = Cluster.objects.create(
        name=name, dbms_type="postgresql", application=application, environment="prod"
    )
    servers = []
    variables = {}
    for inst in pg.members:
        role = "primary" if inst is pg.primary else "replica"
        if swap_inventory_roles:
            role = "replica" if role == "primary" else "primary"
        server = Server.objects.create(
            name=f"{name}-{inst.name}",
            dbms_type="postgresql",
            cpu=2,
            ram=4,
            db_gigs=10,
            host="127.0.0.1",
            port=inst.port,
            status=PoolStatus.USED,
            cluster=cluster,
            role=role,
            db_version="15.0",
        )
        servers.append(server)
        variables[server.name] = {
            "datadir": str(inst.datadir),
            "logfile": str(inst.logfile),
            "role_hint": inst.name,
        }
    ClusterPatchSettings.objects.create(cluster=cluster, server_variables=variables)
    return cluster, servers


def patch_level_recipe(name: str = "patch-level", **overrides) -> PatchRecipe:
    fields = {
        "name": name,
        "dbms_type": "postgresql",
        "patch_type": PatchType.DB,
        "executor": ExecutorKind.LOCAL,
        "command": PATCH_COMMAND,
        "version_command": VERSION_COMMAND,
        "timeout_seconds": 60,
        "verify_timeout_seconds": 20,
        "variables": {
            "psql": str(PG_BIN / "psql"),
            "pg_ctl": str(PG_BIN / "pg_ctl"),
            "as_postgres": AS_POSTGRES,
        },
    }
    fields.update(overrides)
    return PatchRecipe.objects.create(**fields)


def patch_level(inst) -> str:
    return inst.query("SELECT coalesce(current_setting('rocketdbaas.patch_level', true), 'none')")[0][0]


def started_at(inst):
    return inst.query("SELECT pg_postmaster_start_time()")[0][0]


class SignalRecorder:
    """Records the patch run signals as subscribers receive them."""

    def __init__(self):
        from rocketdbaas.patching import signals

        self.events: list[tuple[str, int, int | None, str]] = []
        self.lock = threading.Lock()
        self._connected = []
        for name in ("run_started", "step_finished", "run_finished", "run_failed"):
            sig = getattr(signals, name)

            def receiver(sender, run, step=None, _name=name, **kwargs):
                with self.lock:
                    self.events.append(
                        (_name, run.pk, step.pk if step else None, step.outcome if step else run.status)
                    )

            sig.connect(receiver, weak=False, dispatch_uid=f"test-{name}")
            self._connected.append((sig, name))

    def disconnect(self):
        for sig, name in self._connected:
            sig.disconnect(dispatch_uid=f"test-{name}")

    def names(self) -> list[str]:
        return [e[0] for e in self.events]


@pytest.fixture
def patch_signals():
    recorder = SignalRecorder()
    try:
        yield recorder
    finally:
        recorder.disconnect()
