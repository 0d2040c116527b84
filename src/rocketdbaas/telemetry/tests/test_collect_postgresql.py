"""The collector against real PostgreSQL servers: a primary and a streaming replica on loopback,
with databases of known sizes made here."""

import logging
import time
from pathlib import Path

import pytest
from tests.support.pg import PgCluster, pg_available
from tests.support.services import require_service

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.activities.services import record_activity
from rocketdbaas.inventory.models import Server
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import (
    CollectionResult,
    DatabaseInfo,
    DbCredential,
    Outcome,
    RunStatus,
    RunTrigger,
    SizeSample,
    VersionSample,
)
from rocketdbaas.telemetry.tests.conftest import make_cluster

LEDGER_ROWS = 16_000  # ~1 KB each: the ledger database is ~16 MB bigger than an empty one
COLLECTOR_PASSWORD = "Tr0ub4dor&3-collector"


def _wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError("condition not met in time")


@pytest.fixture(scope="module")
def pg():
    """One primary + replica for the module, with two application databases and a login that
    needs a password (scram) while the rest of the cluster trusts loopback."""
    require_service(pg_available(), "PostgreSQL server binaries (initdb) are not installed")
    cluster = PgCluster(replicas=1)
    try:
        cluster.wait_replicas_streaming()
        primary = cluster.primary
        primary.query("CREATE DATABASE sales")
        primary.query("CREATE DATABASE ledger")
        primary.query(
            "CREATE TABLE entries AS SELECT g AS id, repeat('x', 1000) AS pad FROM generate_series(1, %s) g",
            (LEDGER_ROWS,),
            dbname="ledger",
        )
        primary.query("VACUUM ANALYZE", dbname="ledger")
        primary.query(f"CREATE ROLE collector LOGIN PASSWORD '{COLLECTOR_PASSWORD}' IN ROLE pg_monitor")
        for inst in cluster.members:
            hba = Path(inst.datadir) / "pg_hba.conf"
            hba.write_text("host all collector 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
            inst.query("SELECT pg_reload_conf()")
        replica = cluster.replicas[0]
        _wait_for(
            lambda: (
                replica.query("SELECT count(*) FROM pg_database WHERE datname IN ('sales', 'ledger')")[0][0]
                == 2
                and replica.query("SELECT to_regclass('entries') IS NOT NULL", dbname="ledger")[0][0]
            )
        )
        primary.query("CHECKPOINT")
        yield cluster
    finally:
        cluster.destroy()


def _fleet(pg_cluster, name="orders"):
    return make_cluster(
        name,
        members=[(f"{name}-db1", pg_cluster.primary.port), (f"{name}-db2", pg_cluster.replicas[0].port)],
    )


def _sizes(inst) -> dict[str, int]:
    return dict(inst.query("SELECT datname, pg_database_size(oid) FROM pg_database WHERE NOT datistemplate"))


def test_collects_versions_roles_and_sizes(db, pg):
    cluster = _fleet(pg)
    version_num = pg.primary.query("SELECT current_setting('server_version_num')::int")[0][0]
    expected_version = f"{version_num // 10000}.{version_num % 10000}"

    run = services.collect(trigger=RunTrigger.CLI, cluster=cluster)

    assert (run.status, run.servers_total, run.servers_ok, run.servers_failed) == (
        RunStatus.FINISHED,
        2,
        2,
        0,
    )
    primary, replica = Server.objects.get(name="orders-db1"), Server.objects.get(name="orders-db2")
    assert (primary.role, primary.db_version) == ("primary", expected_version)
    assert (replica.role, replica.db_version) == ("replica", expected_version)

    results = {r.server.name: r for r in CollectionResult.objects.filter(run=run).select_related("server")}
    assert {r.outcome for r in results.values()} == {Outcome.OK}
    assert results["orders-db1"].version_num == version_num
    # Replication state as each side sees it.
    assert [r["state"] for r in results["orders-db1"].details["replicas"]] == ["streaming"]
    assert results["orders-db2"].details["upstream"]["port"] == pg.primary.port

    for server, inst in ((primary, pg.primary), (replica, pg.replicas[0])):
        live = _sizes(inst)
        recorded = dict(SizeSample.objects.filter(server=server).values_list("database", "size_bytes"))
        assert set(recorded) == {"postgres", "sales", "ledger"}
        for name, size in recorded.items():
            assert abs(size - live[name]) < 512 * 1024, name
        assert recorded["ledger"] - recorded["sales"] >= LEDGER_ROWS * 1000

    databases = dict(DatabaseInfo.objects.filter(cluster=cluster).values_list("name", "reported_by__name"))
    assert databases == {"postgres": "orders-db1", "sales": "orders-db1", "ledger": "orders-db1"}
    section = services.cluster_databases(cluster)
    assert [d.name for d in section.databases] == ["ledger", "postgres", "sales"]
    assert [d.system for d in section.databases] == [False, True, False]
    assert section.last_collected is not None

    # First observation of each server is a version sample; an unchanged second run adds none.
    assert VersionSample.objects.count() == 2
    services.collect(trigger=RunTrigger.CLI, cluster=cluster)
    assert VersionSample.objects.count() == 2
    assert SizeSample.objects.count() == 12
    assert not Activity.objects.filter(type=ActivityType.FAILOVER).exists()


def test_dropped_database_leaves_the_cluster_list(db, pg):
    cluster = _fleet(pg, "scratch")
    pg.primary.query("CREATE DATABASE tmp_reports")
    services.collect(trigger=RunTrigger.CLI, cluster=cluster)
    assert DatabaseInfo.objects.filter(cluster=cluster, name="tmp_reports").exists()
    pg.primary.query("DROP DATABASE tmp_reports")
    services.collect(trigger=RunTrigger.CLI, cluster=cluster)
    assert not DatabaseInfo.objects.filter(cluster=cluster, name="tmp_reports").exists()
    # Its history stays.
    assert SizeSample.objects.filter(cluster=cluster, database="tmp_reports").exists()


def test_stopped_instance_is_unreachable_and_the_others_are_still_collected(db, pg):
    _fleet(pg)
    other = make_cluster("payments", members=[("payments-db1", pg.primary.port)])
    replica = pg.replicas[0]
    replica.stop()
    try:
        run = services.collect(trigger=RunTrigger.CLI)
    finally:
        replica.start()
    outcomes = dict(CollectionResult.objects.filter(run=run).values_list("server__name", "outcome"))
    assert outcomes == {
        "orders-db1": Outcome.OK,
        "orders-db2": Outcome.UNREACHABLE,
        "payments-db1": Outcome.OK,
    }
    failed = CollectionResult.objects.get(run=run, server__name="orders-db2")
    assert "connection refused" in failed.error
    assert (run.status, run.servers_ok, run.servers_failed) == (RunStatus.FINISHED, 2, 1)
    assert DatabaseInfo.objects.filter(cluster=other).count() == 3
    assert not SizeSample.objects.filter(server__name="orders-db2").exists()


def test_password_credentials_are_used_and_never_logged(db, pg, caplog):
    caplog.set_level(logging.DEBUG)
    cluster = _fleet(pg, "secured")
    services.create_credential(
        "postgresql", cluster, services.CredentialInput(username="collector", password=COLLECTOR_PASSWORD)
    )
    stored = DbCredential.objects.get(cluster=cluster)
    assert COLLECTOR_PASSWORD not in stored.encrypted_password

    run = services.collect(trigger=RunTrigger.CLI, cluster=cluster)
    assert run.servers_ok == 2

    services.update_credential(stored, services.CredentialInput(password="wrong-password"))
    run = services.collect(trigger=RunTrigger.CLI, cluster=cluster)
    outcomes = set(CollectionResult.objects.filter(run=run).values_list("outcome", flat=True))
    assert outcomes == {Outcome.AUTH_FAILED}

    assert COLLECTOR_PASSWORD not in caplog.text
    assert "wrong-password" not in caplog.text
    for activity in Activity.objects.all():
        assert COLLECTOR_PASSWORD not in str(activity.details) + activity.summary


def test_env_referenced_password(db, pg, monkeypatch):
    cluster = _fleet(pg, "envcred")
    monkeypatch.setenv("RDB_SECRET_ENVCRED", COLLECTOR_PASSWORD)
    services.create_credential(
        "postgresql",
        cluster,
        services.CredentialInput(username="collector", password_env="RDB_SECRET_ENVCRED"),
    )
    assert services.collect(trigger=RunTrigger.CLI, cluster=cluster).servers_ok == 2
    monkeypatch.delenv("RDB_SECRET_ENVCRED")
    run = services.collect(trigger=RunTrigger.CLI, cluster=cluster)
    failed = CollectionResult.objects.filter(run=run).first()
    assert failed.outcome == Outcome.AUTH_FAILED
    assert "RDB_SECRET_ENVCRED" in failed.error and "is not set" in failed.error


def test_promotion_between_two_runs_is_an_unplanned_failover(db, pg_cluster):
    cluster = _fleet(pg_cluster, "inventory")
    services.collect(trigger=RunTrigger.SCHEDULE, cluster=cluster)
    pg_cluster.primary.stop()
    pg_cluster.replicas[0].promote()
    _wait_for(lambda: not pg_cluster.replicas[0].query("SELECT pg_is_in_recovery()")[0][0])

    run = services.collect(trigger=RunTrigger.SCHEDULE, cluster=cluster)

    failover = Activity.objects.get(type=ActivityType.FAILOVER)
    assert (failover.cluster, failover.server.name, failover.planned) == (cluster, "inventory-db2", False)
    assert failover.details["collectionRunId"] == run.pk
    assert Server.objects.get(name="inventory-db2").role == "primary"
    # The old primary is down, not demoted: its inventory role stays until it is seen again.
    assert Server.objects.get(name="inventory-db1").role == "primary"
    # Seen again an hour later: still primary, so no second failover.
    services.collect(trigger=RunTrigger.SCHEDULE, cluster=cluster)
    assert Activity.objects.filter(type=ActivityType.FAILOVER).count() == 1


def test_promotion_explained_by_a_planned_switchover_is_not_a_failover(db, pg_cluster):
    cluster = _fleet(pg_cluster, "catalog")
    services.collect(trigger=RunTrigger.SCHEDULE, cluster=cluster)
    record_activity(
        dbms_type="postgresql",
        type=ActivityType.SWITCHOVER,
        summary="Switchover to catalog-db2 before patching catalog-db1",
        cluster=cluster,
        planned=True,
    )
    pg_cluster.primary.stop()
    pg_cluster.replicas[0].promote()
    _wait_for(lambda: not pg_cluster.replicas[0].query("SELECT pg_is_in_recovery()")[0][0])

    services.collect(trigger=RunTrigger.SCHEDULE, cluster=cluster)

    assert not Activity.objects.filter(type=ActivityType.FAILOVER).exists()
    assert Server.objects.get(name="catalog-db2").role == "primary"


def test_promotion_during_a_running_patch_step_is_not_a_failover(db, pg_cluster):
    from django.utils import timezone

    from rocketdbaas.patching.models import PatchRecipe, PatchRun, PatchRunCluster, PatchStep

    cluster = _fleet(pg_cluster, "billing")
    services.collect(trigger=RunTrigger.SCHEDULE, cluster=cluster)
    recipe = PatchRecipe.objects.create(
        name="pg-minor", dbms_type="postgresql", patch_type="DB", command="true"
    )
    run = PatchRun.objects.create(
        dbms_type="postgresql", patch_type="DB", patch_version="15.99", recipe=recipe, status="running"
    )
    run_cluster = PatchRunCluster.objects.create(
        run=run, cluster=cluster, batch=1, position=1, status="running", started_at=timezone.now()
    )
    # The patcher is switching over away from billing-db1 and has not written any activity yet.
    PatchStep.objects.create(
        run=run,
        run_cluster=run_cluster,
        cluster=cluster,
        server=Server.objects.get(name="billing-db1"),
        batch=1,
        position=2,
        status="switchover",
        started_at=timezone.now(),
    )
    pg_cluster.primary.stop()
    pg_cluster.replicas[0].promote()
    _wait_for(lambda: not pg_cluster.replicas[0].query("SELECT pg_is_in_recovery()")[0][0])

    services.collect(trigger=RunTrigger.SCHEDULE, cluster=cluster)

    assert not Activity.objects.filter(type=ActivityType.FAILOVER).exists()
    assert Server.objects.get(name="billing-db2").role == "primary"
