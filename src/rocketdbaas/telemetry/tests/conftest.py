"""Inventory rows for telemetry tests, made directly: these tests are about what the
collector records, not about how clusters are built."""

import pytest

from rocketdbaas.inventory.models import Application, Cluster, ClusterStatus, PoolStatus, Server


def make_cluster(
    name: str, dbms_type: str = "postgresql", members=(), application: str = "billing"
) -> Cluster:
    """members: (server name, port) pairs on 127.0.0.1."""
    app, _ = Application.objects.get_or_create(name=application)
    cluster = Cluster.objects.create(
        name=name, dbms_type=dbms_type, application=app, status=ClusterStatus.ACTIVE
    )
    for server_name, port in members:
        Server.objects.create(
            name=server_name,
            dbms_type=dbms_type,
            cpu=2,
            ram=4,
            db_gigs=50,
            host="127.0.0.1",
            port=port,
            status=PoolStatus.USED,
            cluster=cluster,
        )
    return cluster


@pytest.fixture
def cluster_factory(db):
    return make_cluster
