"""The fleet's web pages: cluster list and detail, servers, and the spare pool with its actions."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from tests.support.fixtures import make_user

from rocketdbaas.accounts.models import Role
from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server

from .helpers import db_state

XSS = '<img src=x onerror="alert(1)">'


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def register(dbms_type, app, cluster, env="prod", status="active", servers=(), version=""):
    """Register a cluster and its servers: servers = [(name, role, cpu, ram, disk), ...]."""
    services.register_clusters_servers(
        dbms_type,
        [
            services.ClusterRegistration(
                application=services.ApplicationSpec(name=app),
                cluster=services.ClusterSpec(
                    name=cluster, environment=env, status=status, db_version=version
                ),
                servers=[
                    services.ServerSpec(
                        server_name=n,
                        role=r,
                        cpu=c,
                        ram=m,
                        db_gigs=d,
                        db_version=version,
                        os_version="Debian 12",
                    )
                    for n, r, c, m, d in servers
                ],
            )
        ],
    )


@pytest.fixture
def fleet(db):
    register(
        "postgresql",
        "Billing",
        "billing-prod",
        servers=[("pg1", "primary", 4, 16, 100), ("pg2", "replica", 4, 16, 100)],
        version="16.4",
    )
    register(
        "postgresql",
        "Billing",
        "billing-dev",
        env="dev",
        servers=[("pg3", "primary", 2, 8, 50)],
        version="15.8",
    )
    register("postgresql", "Ledger", "ledger-prod", status="decommissioned")
    register("mongodb", "Catalog", "catalog-prod", servers=[("mg1", "primary", 8, 32, 200)])


def rows(page: str, table_class: str) -> list[str]:
    """Each body row's first cell text, in order."""
    table = page.split(f'class="data {table_class}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<tr[^>]*>\s*<td>(.*?)</td>", body, re.S)
    ]


def test_cluster_list_filters_searches_and_sorts(fleet, viewer_user):
    client = client_for(viewer_user)
    page = client.get("/clusters/postgresql/").content.decode()
    assert rows(page, "clusters") == ["billing-dev", "billing-prod", "ledger-prod"]
    assert "catalog-prod" not in page
    assert 'class="badge badge-ok">Active<' in page and 'class="badge badge-muted">Decommissioned<' in page

    assert rows(client.get("/clusters/PostgreSQL/?environment=prod").content.decode(), "clusters") == [
        "billing-prod",
        "ledger-prod",
    ]
    assert rows(client.get("/clusters/postgresql/?application=Ledger").content.decode(), "clusters") == [
        "ledger-prod"
    ]
    assert rows(client.get("/clusters/postgresql/?status=active&q=bill").content.decode(), "clusters") == [
        "billing-dev",
        "billing-prod",
    ]
    by_servers = client.get("/clusters/postgresql/?sort=-servers").content.decode()
    assert rows(by_servers, "clusters") == ["billing-prod", "billing-dev", "ledger-prod"]
    assert 'aria-sort="descending"' in by_servers
    assert "16.4" in page and "15.8" in page and "mixed" not in page
    Server.objects.filter(name="pg2").update(db_version="16.3")  # a rolling patch half-way
    assert "16.3 – 16.4" in client.get("/clusters/postgresql/").content.decode()
    # An unknown filter value is ignored rather than an error; an unknown type is a 404.
    assert client.get("/clusters/postgresql/?status=bogus&sort=nope").status_code == 200
    assert client.get("/clusters/oracle/").status_code == 404


def test_versions_are_shown_and_sorted_in_version_order(db, viewer_user, add_pool):
    register("postgresql", "Billing", "a-ten", servers=[("ten1", "primary", 2, 4, 10)], version="15.10")
    register("postgresql", "Billing", "b-nine", servers=[("nine1", "primary", 2, 4, 10)], version="15.9")
    register(
        "postgresql",
        "Billing",
        "c-rolling",
        servers=[("roll1", "primary", 2, 4, 10), ("roll2", "replica", 2, 4, 10)],
        version="15.9",
    )
    register("postgresql", "Billing", "d-unknown", servers=[("unk1", "primary", 2, 4, 10)], version="")
    Server.objects.filter(name="roll2").update(db_version="15.10")  # a rolling patch half-way
    Server.objects.filter(name="nine1").update(os_version="Debian 12.10")
    Server.objects.filter(name="ten1").update(os_version="Debian 12.9")
    add_pool("postgresql", ("spare-new", 2, 4, 10), ("spare-old", 2, 4, 10))
    Server.objects.filter(name="spare-new").update(db_version="15.10")
    Server.objects.filter(name="spare-old").update(db_version="15.9")
    client = client_for(viewer_user)

    page = client.get("/clusters/postgresql/").content.decode()
    assert "15.9 – 15.10" in page and "15.10 – 15.9" not in page
    by_version = client.get("/clusters/postgresql/?sort=version").content.decode()
    # A cluster sorts by its highest version; no version at all sorts first.
    assert rows(by_version, "clusters") == ["d-unknown", "b-nine", "a-ten", "c-rolling"]
    by_version = client.get("/clusters/postgresql/?sort=-version").content.decode()
    assert rows(by_version, "clusters") == ["a-ten", "c-rolling", "b-nine", "d-unknown"]

    detail = client.get("/clusters/postgresql/c-rolling/").content.decode()
    assert "15.9, 15.10" in detail

    servers = client.get("/servers/postgresql/?sort=version").content.decode()
    # Equal versions keep the order they were added in.
    assert rows(servers, "servers") == ["unk1", "nine1", "roll1", "spare-old", "ten1", "roll2", "spare-new"]
    servers = client.get("/servers/postgresql/?sort=os").content.decode()
    assert rows(servers, "servers")[-2:] == ["ten1", "nine1"]  # Debian 12.9 < Debian 12.10
    pool = client.get("/pool/postgresql/?sort=-version").content.decode()
    assert rows(pool, "pool") == ["spare-new", "spare-old"]


def test_cluster_list_pages(db, viewer_user):
    for i in range(30):
        register("postgresql", "Bulk", f"bulk-{i:02d}")
    client = client_for(viewer_user)
    first = client.get("/clusters/postgresql/?per_page=25").content.decode()
    assert len(rows(first, "clusters")) == 25 and "1–25 of 30" in first
    second = client.get("/clusters/postgresql/?per_page=25&page=2").content.decode()
    assert rows(second, "clusters") == [f"bulk-{i}" for i in range(25, 30)]


def test_list_pages_use_a_constant_number_of_queries(db, viewer_user, django_assert_num_queries):
    register("postgresql", "App0", "c-000", servers=[("s-000-a", "primary", 2, 4, 10)])
    services.add_pool_servers("postgresql", [services.ServerSpec("spare-first", 2, 4, 10)])
    client = client_for(viewer_user)
    urls = ["/clusters/postgresql/", "/servers/postgresql/", "/pool/postgresql/", "/"]
    for url in urls:
        client.get(url)
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts[url] = len(ctx.captured_queries)
    for i in range(1, 20):
        register(
            "postgresql",
            f"App{i}",
            f"c-{i:03d}",
            servers=[(f"s-{i:03d}-a", "primary", 2, 4, 10), (f"s-{i:03d}-b", "replica", 2, 4, 10)],
        )
    services.add_pool_servers("postgresql", [services.ServerSpec(f"spare-{i}", 2, 4, 10) for i in range(20)])
    for url in urls:
        with django_assert_num_queries(counts[url]):
            client.get(url)
    # session, user, applications filter, the fleet's version texts (ranked in Python), count, page
    assert counts["/clusters/postgresql/"] <= 6


def test_cluster_detail_shows_servers_roles_and_versions(fleet, viewer_user):
    client = client_for(viewer_user)
    page = client.get("/clusters/postgresql/billing-prod/").content.decode()
    assert page.index(">pg1<") < page.index(">pg2<")  # primary first
    assert 'badge badge-ok">Primary<' in page and 'badge badge-info">Replica<' in page
    assert "16.4" in page and "Debian 12" in page and "8 cores" in page
    assert client.get("/clusters/postgresql/nope/").status_code == 404
    assert client.get("/clusters/mongodb/billing-prod/").status_code == 404
    assert client.get("/clusters/postgresql/billing%00/").status_code == 404
    assert client.get("/clusters/postgresql/?q=bill%00ing").status_code == 200  # invalid filter ignored


def test_owners_see_only_their_applications(fleet):
    owner = make_user("otto-owner", Role.OWNER)
    Application.objects.get(name="Billing").owners.add(owner)
    client = client_for(owner)
    assert rows(client.get("/clusters/postgresql/").content.decode(), "clusters") == [
        "billing-dev",
        "billing-prod",
    ]
    assert client.get("/clusters/postgresql/ledger-prod/").status_code == 404
    assert rows(client.get("/servers/postgresql/").content.decode(), "servers") == ["pg1", "pg2", "pg3"]


def test_names_are_escaped(db, viewer_user):
    register("postgresql", XSS, "xss-cluster")
    Cluster.objects.filter(name="xss-cluster").update(description=XSS)
    client = client_for(viewer_user)
    for url in ("/clusters/postgresql/", "/clusters/postgresql/xss-cluster/"):
        page = client.get(url).content.decode()
        assert XSS not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_server_list_filters(fleet, viewer_user, add_pool):
    add_pool("postgresql", ("spare1", 2, 4, 10))
    services.retire_pool_servers("postgresql", ["spare1"])
    client = client_for(viewer_user)
    assert rows(client.get("/servers/postgresql/").content.decode(), "servers") == ["pg1", "pg2", "pg3"]
    assert rows(client.get("/servers/postgresql/?status=Retired").content.decode(), "servers") == ["spare1"]
    assert rows(client.get("/servers/postgresql/?role=replica").content.decode(), "servers") == ["pg2"]
    assert rows(client.get("/servers/postgresql/?environment=dev").content.decode(), "servers") == ["pg3"]
    assert rows(client.get("/servers/postgresql/?sort=-cpu").content.decode(), "servers")[-1] == "pg3"


# ---------------------------------------------------------------- the pool


@pytest.fixture
def pool(add_pool):
    add_pool("postgresql", ("p-small", 2, 8, 50), ("p-mid", 4, 16, 100), ("p-big", 16, 64, 500))


def test_viewers_see_the_pool_but_no_actions(pool, viewer_user):
    client = client_for(viewer_user)
    page = client.get("/pool/postgresql/").content.decode()
    assert rows(page, "pool") == ["p-small", "p-mid", "p-big"]  # smallest first
    assert "Pull and lock" not in page and "Release" not in page
    before = db_state()
    assert (
        client.post(
            "/pool/postgresql/pull/", {"number_of_servers": 1, "cpu": 1, "ram": 1, "db_gigs": 1}
        ).status_code
        == 403
    )
    assert client.post("/pool/postgresql/p-small/status/", {"status": "Free"}).status_code == 403
    assert db_state() == before


def test_dba_pulls_and_locks_best_fit(pool, dba_user):
    client = client_for(dba_user)
    assert "Pull and lock" in client.get("/pool/postgresql/").content.decode()
    response = client.post(
        "/pool/postgresql/pull/", {"number_of_servers": 2, "cpu": 2, "ram": 8, "db_gigs": 50}
    )
    assert response.status_code == 302 and response["Location"] == "/pool/postgresql/?status=Locked"
    page = client.get(response["Location"]).content.decode()
    assert "Locked 2 server(s) for you: p-mid, p-small" in page
    assert rows(page, "pool") == ["p-small", "p-mid"]
    assert set(
        Server.objects.filter(status=PoolStatus.LOCKED).values_list("locked_by__username", flat=True)
    ) == {dba_user.username}


def test_pull_that_cannot_be_satisfied_changes_nothing_and_keeps_the_input(pool, dba_user):
    before = db_state()
    response = client_for(dba_user).post(
        "/pool/postgresql/pull/", {"number_of_servers": 2, "cpu": 16, "ram": 8, "db_gigs": 50}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "1 match. Nothing was locked." in page and 'name="cpu" value="16"' in page
    assert db_state() == before
    response = client_for(dba_user).post("/pool/postgresql/pull/", {"number_of_servers": 0, "cpu": "x"})
    assert response.status_code == 400 and db_state() == before


def test_release_and_mark_used(pool, dba_user, fleet):
    client = client_for(dba_user)
    services.pull_and_lock("postgresql", 2, cpu=2, ram=8, db_gigs=50, user=dba_user)
    page = client.get("/pool/postgresql/?status=Locked").content.decode()
    assert page.count(">Release<") == 2 and page.count(">Mark used<") == 2

    response = client.post(
        "/pool/postgresql/p-small/status/", {"status": "Free", "next": "/pool/postgresql/"}
    )
    assert response.status_code == 302 and response["Location"] == "/pool/postgresql/"
    assert Server.objects.get(name="p-small").status == PoolStatus.FREE

    client.post(
        "/pool/postgresql/p-mid/status/", {"status": "Used", "cluster": "billing-prod", "role": "replica"}
    )
    mid = Server.objects.get(name="p-mid")
    assert (mid.status, mid.cluster.name, mid.role) == (PoolStatus.USED, "billing-prod", "replica")
    assert (
        "p-mid is now Used in cluster billing-prod as replica."
        in client.get("/pool/postgresql/").content.decode()
    )


def test_pool_actions_that_the_service_refuses_explain_why(pool, dba_user, admin_user):
    other_dba = make_user("dora-dba", Role.DBA)
    services.pull_and_lock("postgresql", 1, cpu=2, ram=8, db_gigs=50, user=other_dba)
    client = client_for(dba_user)
    page = client.get("/pool/postgresql/?status=Locked").content.decode()
    assert "locked by dora-dba" in page and ">Release<" not in page  # not offered
    before = db_state()
    client.post("/pool/postgresql/p-small/status/", {"status": "Free"})  # forged anyway
    assert "Locked by another caller" in client.get("/pool/postgresql/").content.decode()
    client.post("/pool/postgresql/p-mid/status/", {"status": "Used", "cluster": "billing-prod"})
    assert "pull and lock it before marking it Used" in client.get("/pool/postgresql/").content.decode()
    client.post("/pool/postgresql/p-mid/status/", {"status": "Bogus"})
    assert "status:" in client.get("/pool/postgresql/").content.decode()
    assert db_state() == before
    # An admin may release anyone's lock.
    assert ">Release<" in client_for(admin_user).get("/pool/postgresql/?status=Locked").content.decode()


def test_next_must_stay_on_this_site(pool, dba_user):
    services.pull_and_lock("postgresql", 1, cpu=2, ram=8, db_gigs=50, user=dba_user)
    response = client_for(dba_user).post(
        "/pool/postgresql/p-small/status/", {"status": "Free", "next": "//evil.example.com/"}
    )
    assert response["Location"] == "/pool/postgresql/"


def test_pool_forms_are_csrf_protected(pool, dba_user):
    client = client_for(dba_user, enforce_csrf_checks=True)
    before = db_state()
    assert (
        client.post(
            "/pool/postgresql/pull/", {"number_of_servers": 1, "cpu": 1, "ram": 1, "db_gigs": 1}
        ).status_code
        == 403
    )
    assert db_state() == before
