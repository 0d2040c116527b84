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


@pytest.fixture(scope="session")
def pg_pair():
    """A primary and one streaming replica, shared by the tests that keep its topology (each
    patches it to a version of its own)."""
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
        for name in ("run_started", "step_finished", "run_finished"):
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


# An OS-style recipe whose version lives in a marker file per server; every command run is
# appended to a log, so tests can count what really ran. `gate` makes a command wait until a
# file exists, `fail` makes it exit 3.
MARKER_VERSION = "cat {markers}/{server} 2>/dev/null || echo none"
MARKER_COMMAND = (
    'echo "$(date +%s.%N) {server} {version}" >> {markers}/ran.log; '
    "while [ ! -e {gate} ]; do sleep 0.02; done; "
    "if [ {fail} = 1 ]; then echo 'disk full on {server}' >&2; exit 3; fi; "
    "echo {version} > {markers}/{server}; echo 'patched {server}'"
)


def marker_recipe(markers, name: str = "marker", **overrides) -> PatchRecipe:
    markers.mkdir(exist_ok=True)
    (markers / "open").touch()
    fields = {
        "name": name,
        "dbms_type": "postgresql",
        "patch_type": PatchType.OS,
        "executor": ExecutorKind.LOCAL,
        "command": MARKER_COMMAND,
        "version_command": MARKER_VERSION,
        "timeout_seconds": 30,
        "verify_timeout_seconds": 5,
        "variables": {"markers": str(markers), "gate": str(markers / "open"), "fail": "0"},
    }
    fields.update(overrides)
    return PatchRecipe.objects.create(**fields)


def ran(markers) -> list[str]:
    """Servers the marker recipe's command ran on, in order."""
    log = markers / "ran.log"
    return [line.split()[1] for line in log.read_text().splitlines()] if log.exists() else []


def register_alias(pg: PgCluster, name: str, app: str, env: str = "prod", **server_vars):
    """Another inventory cluster whose servers are the same live pair (for tests whose recipe
    does not touch the database: health and roles still come from real servers)."""
    cluster, servers = register_pg_cluster(pg, name, app, swap_inventory_roles=False)
    Cluster.objects.filter(pk=cluster.pk).update(environment=env)
    if server_vars:
        ps = cluster.patch_settings
        for server in servers:
            ps.server_variables[server.name].update(server_vars.get(server.name.removeprefix(f"{name}-"), {}))
        ps.save()
    return cluster, servers


def wait_for(predicate, timeout: float = 20.0, what="condition"):
    """Poll until predicate() is truthy; `what` (a string, or a callable giving one when it
    fails, e.g. a worker's log) explains a timeout."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


class RunInThread:
    """Executes a run's orchestrator in a thread, as a worker would."""

    def __init__(self, run_id: int):
        from rocketdbaas.patching.orchestrator import RunOrchestrator

        self.result: list = []
        self.thread = threading.Thread(target=self._go, args=(RunOrchestrator(run_id),), daemon=True)
        self.thread.start()

    def _go(self, orchestrator):
        from django.db import connections

        try:
            self.result.append(orchestrator.execute())
        finally:
            connections.close_all()

    def join(self, timeout: float = 60.0):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not finish"
        return self.result[0]


@pytest.fixture(scope="session")
def sshd():
    """A real OpenSSH sshd on loopback (key auth; its host key in `sshd.host_key_line`)."""
    from tests.support.sshd import Sshd, sshd_available

    require_service(sshd_available(), "OpenSSH sshd is not installed (apt-get install openssh-server)")
    server = Sshd()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ssh_settings(settings, sshd):
    settings.PATCH_SSH_KEY_PATH = sshd.client_key_path
    settings.PATCH_SSH_USER = sshd.user
    settings.PATCH_SSH_KNOWN_HOSTS = ""
    return settings


def test_database_url() -> str:
    """The URL of the database this test runs on, for worker processes to share it."""
    from django.db import connection

    sd = connection.settings_dict
    if sd["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{sd['NAME']}"
    auth = sd["USER"] + (f":{sd['PASSWORD']}" if sd.get("PASSWORD") else "")
    return f"postgresql://{auth}@{sd['HOST'] or '127.0.0.1'}:{sd['PORT'] or 5432}/{sd['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


class WorkerProcess:
    """`rocketdbaas worker` (task worker + periodic scheduler) in its own process, on the test's
    database, with the short leases of worker_settings."""

    def __init__(self, logdir, name: str, *args: str, **env: str):
        import subprocess
        import sys

        self.log_path = logdir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - open while the worker runs
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "rocketdbaas.patching.tests.worker_settings",
            "DATABASE_URL": test_database_url(),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        code = "import sys; from rocketdbaas.cli import main; sys.exit(main(sys.argv))"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, "worker", "--tick", "0.2", *args],
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def workers(tmp_path):
    """Start worker processes with workers.start(name, **env); all are stopped at the end."""
    started: list[WorkerProcess] = []

    class Workers:
        def start(self, name: str, *args: str, **env: str) -> WorkerProcess:
            worker = WorkerProcess(tmp_path, name, *args, **env)
            started.append(worker)
            return worker

    try:
        yield Workers()
    finally:
        for worker in started:
            worker.stop()
