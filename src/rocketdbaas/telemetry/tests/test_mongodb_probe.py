"""The MongoDB probe's parsing, on buildInfo/hello/listDatabases replies (see data/mongodb/README.md).

No mongod can be installed on these machines, so nothing here talks to a live MongoDB server
except the unreachable case, which needs none."""

from pathlib import Path

import pytest
from bson import json_util
from django.utils import timezone
from tests.support.services import free_port

from rocketdbaas.dbms import mongodb
from rocketdbaas.dbms.base import ConnectionTarget, DatabaseSize, ServerState
from rocketdbaas.inventory.models import Server
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import DatabaseInfo, RunTrigger, SizeSample
from rocketdbaas.telemetry.tests.conftest import make_cluster

DATA = Path(__file__).parent / "data" / "mongodb"


def doc(name: str) -> dict:
    return json_util.loads((DATA / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("reply", "role"),
    [
        ("hello-primary", "primary"),
        ("hello-secondary", "secondary"),
        ("hello-arbiter", "arbiter"),
        ("hello-hidden", "hidden"),
        ("hello-configsvr", "config"),
        ("hello-mongos", "mongos"),
        ("hello-standalone", "primary"),
    ],
)
def test_role_from_hello(reply, role):
    assert mongodb.role_from_hello(doc(reply)) == role


def test_version_from_build_info():
    assert mongodb.version_from_build_info(doc("buildinfo-7.0")) == ("7.0.14", 70014)
    assert mongodb.version_from_build_info(doc("buildinfo-6.0")) == ("6.0.18", 60018)
    assert mongodb.parse_version("7.0.14") == 70014
    assert mongodb.parse_version("8.0.0-rc3") == 80000
    assert mongodb.parse_version("seven") is None


def test_databases_from_list_databases():
    sizes = mongodb.databases_from_list(doc("listdatabases-replicaset"))
    assert sizes[3] == DatabaseSize("fulfilment", 3840589824)
    assert sum(d.size_bytes for d in sizes) == doc("listdatabases-replicaset")["totalSize"]
    # Through mongos a database's size is the sum over its shards.
    catalog = next(d for d in mongodb.databases_from_list(doc("listdatabases-mongos")) if d.name == "catalog")
    assert catalog.size_bytes == 96636764160
    assert mongodb.databases_from_list({"databases": [{"name": "x", "empty": True}]}) == []


def test_replication_from_hello():
    primary = mongodb.replication_from_hello(doc("hello-primary"))
    secondary = mongodb.replication_from_hello(doc("hello-secondary"))
    assert primary["setName"] == "rs-orders" and primary["primary"] == primary["me"]
    assert len(primary["hosts"]) == 3 and primary["arbiters"] == [
        "mongo-orders-prod-05.dc3.example.internal:27017"
    ]
    assert (primary["lastWriteDate"], secondary["lastWriteDate"]) == (
        "2024-11-28T03:21:50+00:00",
        "2024-11-28T03:21:48+00:00",
    )
    assert mongodb.replication_from_hello(doc("hello-standalone")) == {}


def _state(hello: str, listed: str | None) -> ServerState:
    version, num = mongodb.version_from_build_info(doc("buildinfo-7.0"))
    h = doc(hello)
    return ServerState(
        reachable=True,
        role=mongodb.role_from_hello(h),
        version=version,
        version_num=num,
        details=mongodb.replication_from_hello(h),
        databases=mongodb.databases_from_list(doc(listed)) if listed else [],
    )


def test_recording_a_replica_set_from_its_replies(db):
    """What the collector stores for a replica set, given exactly what its members answered."""
    cluster = make_cluster(
        "mongo-orders-prod",
        dbms_type="mongodb",
        members=[("rs-01", 27017), ("rs-03", 27017), ("rs-05", 27017)],
    )
    run = services.request_collection(trigger=RunTrigger.CLI, cluster=cluster)
    now = timezone.now()
    servers = {s.name: s for s in Server.objects.select_related("cluster")}
    probed = [
        services.Probed(servers["rs-01"], _state("hello-primary", "listdatabases-replicaset"), now, 12),
        services.Probed(servers["rs-03"], _state("hello-secondary", "listdatabases-replicaset"), now, 15),
        services.Probed(servers["rs-05"], _state("hello-arbiter", None), now, 9),
    ]
    services.record_results(run, probed)

    roles = dict(Server.objects.values_list("name", "role"))
    assert roles == {"rs-01": "primary", "rs-03": "secondary", "rs-05": "arbiter"}
    assert set(Server.objects.values_list("db_version", flat=True)) == {"7.0.14"}
    info = dict(DatabaseInfo.objects.filter(cluster=cluster).values_list("name", "reported_by__name"))
    assert set(info) == {"admin", "config", "events", "fulfilment", "local", "orders"}
    assert set(info.values()) == {"rs-01"}
    assert SizeSample.objects.filter(server__name="rs-05").count() == 0
    assert SizeSample.objects.count() == 12
    section = services.cluster_databases(cluster)
    assert [d.name for d in section.databases if not d.system] == ["events", "fulfilment", "orders"]


def test_unreachable_mongod_is_reported_not_raised():
    state = mongodb.probe(ConnectionTarget(host="127.0.0.1", port=free_port(), connect_timeout=0.3))
    assert not state.reachable
    assert state.failure in ("unreachable", "timeout")
