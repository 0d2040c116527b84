"""The fleet and the pool candidates: the one definition each that inventory, telemetry,
patching, intake and reports filter by."""

import pytest

from rocketdbaas.inventory.models import Application, Cluster, ClusterStatus, PoolStatus, Server
from rocketdbaas.inventory.services import active_servers, pull_and_lock
from rocketdbaas.reports.services import count_databases
from rocketdbaas.telemetry.services import servers_in_scope


def _cluster(name, status, app):
    return Cluster.objects.create(name=name, dbms_type="postgresql", application=app, status=status)


def _server(name, cluster=None, status=PoolStatus.USED, cpu=4, ram=16, disk=100, dbms_type="postgresql"):
    return Server.objects.create(
        name=name, dbms_type=dbms_type, cpu=cpu, ram=ram, db_gigs=disk, cluster=cluster, status=status
    )


@pytest.fixture
def fleet(db):
    app = Application.objects.create(name="shop")
    active = _cluster("shop-prod", ClusterStatus.ACTIVE, app)
    building = _cluster("shop-new", ClusterStatus.BUILDING, app)
    gone = _cluster("shop-old", ClusterStatus.DECOMMISSIONED, app)
    _server("a1", active)
    _server("a2", active)
    _server("b1", building)
    _server("spare", None, PoolStatus.FREE)
    # Still pointing at a decommissioned cluster: history, not fleet.
    _server("g1", gone)
    return active


def test_the_fleet_is_the_active_clusters_and_the_servers_they_use(fleet):
    assert list(Cluster.objects.fleet().values_list("name", flat=True)) == ["shop-prod"]
    assert list(Server.objects.fleet().values_list("name", flat=True)) == ["a1", "a2"]


def test_inventory_telemetry_and_reports_count_the_same_fleet(fleet):
    fleet_servers = set(Server.objects.fleet().values_list("name", flat=True))
    assert {row["serverName"] for row in active_servers("postgresql")} == fleet_servers
    assert {s.name for s in servers_in_scope(dbms_type="postgresql")} == fleet_servers
    report = count_databases("postgresql")
    assert [(row["application"], row["clusters"], row["servers"]) for row in report.rows] == [("shop", 1, 2)]


@pytest.fixture
def pool(db):
    app = Application.objects.create(name="pool-owner")
    used_by = _cluster("pool-prod", ClusterStatus.ACTIVE, app)
    _server("tiny", status=PoolStatus.FREE, cpu=2, ram=8, disk=50)
    _server("exact", status=PoolStatus.FREE, cpu=4, ram=16, disk=100)
    _server("roomy", status=PoolStatus.FREE, cpu=4, ram=32, disk=100)
    _server("big", status=PoolStatus.FREE, cpu=16, ram=64, disk=500)
    _server("low-disk", status=PoolStatus.FREE, cpu=16, ram=64, disk=99)
    _server("locked", status=PoolStatus.LOCKED, cpu=8, ram=32, disk=200)
    _server("used", used_by, cpu=8, ram=32, disk=200)
    _server("retired", status=PoolStatus.RETIRED, cpu=8, ram=32, disk=200)
    _server("mongo", status=PoolStatus.FREE, cpu=8, ram=32, disk=200, dbms_type="mongodb")


def test_candidates_are_free_servers_that_fit_smallest_first(pool):
    fits = Server.objects.candidates(cpu=4, ram_gb=16, disk_gb=100, dbms="postgresql")
    assert list(fits.values_list("name", flat=True)) == ["exact", "roomy", "big"]
    assert Server.objects.candidates(cpu=1, ram_gb=1, disk_gb=1, dbms="mongodb").get().name == "mongo"


def test_pull_and_lock_takes_the_best_fitting_candidates(pool, dba_user):
    result = pull_and_lock("postgresql", 2, cpu=4, ram=16, db_gigs=100, user=dba_user)
    assert sorted(s.name for s in result.servers) == ["exact", "roomy"]
    assert list(Server.objects.candidates(cpu=4, ram_gb=16, disk_gb=100, dbms="postgresql")) == [
        Server.objects.get(name="big")
    ]
