import pytest

from rocketdbaas.activities.tests.conftest import make_cluster, make_server


@pytest.fixture
def orders(db):
    cluster = make_cluster("pg-orders")
    make_server("pg-orders-1", cluster)
    return cluster


@pytest.fixture
def billing(db):
    return make_cluster("pg-billing")


@pytest.fixture
def catalog(db):
    return make_cluster("mdb-catalog", "mongodb")
