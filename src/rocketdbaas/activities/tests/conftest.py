import pytest

from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server, ServerRole


def make_cluster(name: str, dbms_type: str = "postgresql", app: Application | None = None) -> Cluster:
    app = app or Application.objects.get_or_create(name=f"app-{name}")[0]
    return Cluster.objects.create(name=name, dbms_type=dbms_type, application=app)


def make_server(name: str, cluster: Cluster | None, role: str = ServerRole.PRIMARY) -> Server:
    return Server.objects.create(
        name=name,
        dbms_type=cluster.dbms_type if cluster else "postgresql",
        cpu=4,
        ram=16,
        db_gigs=100,
        status=PoolStatus.USED if cluster else PoolStatus.FREE,
        cluster=cluster,
        role=role if cluster else "",
    )


@pytest.fixture
def orders(db):
    cluster = make_cluster("pg-orders")
    make_server("pg-orders-1", cluster)
    make_server("pg-orders-2", cluster, ServerRole.REPLICA)
    return cluster


@pytest.fixture
def billing(db):
    return make_cluster("pg-billing")


@pytest.fixture
def mongo_cluster(db):
    return make_cluster("mdb-catalog", "mongodb")
