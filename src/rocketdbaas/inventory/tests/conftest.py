import pytest

from rocketdbaas.inventory import services


@pytest.fixture
def add_pool(db):
    """Adds Free servers: add_pool("postgresql", ("pg-a", 4, 16, 100), ...)."""

    def add(dbms_type, *specs):
        return services.add_pool_servers(
            dbms_type,
            [services.ServerSpec(server_name=n, cpu=c, ram=r, db_gigs=d) for n, c, r, d in specs],
        )

    return add
