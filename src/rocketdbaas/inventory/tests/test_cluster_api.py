import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.support.fixtures import make_client, make_user

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.inventory.tests.helpers import assert_problem, db_state

CLUSTER = "/api/postgresql/Cluster"


def cluster_body(*members, name="pg-orders", app="orders", **extra):
    return {
        "application": {"name": app, "costCentre": "CC-42"},
        "cluster": {"name": name, "environment": "prod", "topology": "primary-replica", "dbVersion": "16.4"},
        "servers": [{"serverName": n, "role": r} for n, r in members],
        **extra,
    }


@pytest.fixture
def reservation(dba_user, add_pool):
    add_pool("postgresql", ("db-1", 4, 16, 100), ("db-2", 4, 16, 100), ("spare-1", 8, 32, 200))
    return services.pull_and_lock("postgresql", 2, cpu=4, ram=16, db_gigs=100, user=dba_user)


@pytest.mark.django_db
def test_create_cluster_from_locked_servers(dba_api, reservation):
    body = cluster_body(
        ("db-1", "primary"), ("db-2", "replica"), reservationId=str(reservation.reservation_id)
    )
    response = dba_api.post(CLUSTER, json=body)
    assert response.status_code == 201, response.content
    detail = response.json()
    assert detail["name"] == "pg-orders" and detail["status"] == "active" and detail["dbVersion"] == "16.4"
    assert detail["application"] == {"name": "orders", "description": "", "costCentre": "CC-42"}
    assert [(s["serverName"], s["role"], s["status"]) for s in detail["servers"]] == [
        ("db-1", "primary", "Used"),
        ("db-2", "replica", "Used"),
    ]
    assert Application.objects.get().cost_centre == "CC-42"
    for s in Server.objects.filter(name__in=["db-1", "db-2"]):
        assert s.reservation_id is None and s.locked_by is None and s.lease_expires_at is None
    created = Activity.objects.get(type=ActivityType.CLUSTER_CHANGE)
    assert created.cluster.name == "pg-orders" and created.recorded_by.username == "dave-dba"
    assert Activity.objects.filter(details__to="Used", cluster__name="pg-orders").count() == 2

    got = dba_api.get("/api/POSTGRESQL/Cluster/pg-orders/")
    assert got.status_code == 200
    assert {k: v for k, v in got.json().items() if k in detail} == detail


@pytest.mark.django_db
def test_create_cluster_with_free_servers_and_existing_application(dba_api, add_pool):
    Application.objects.create(name="orders", cost_centre="OLD")
    add_pool("mongodb", ("mg-a", 4, 16, 100), ("mg-b", 4, 16, 100), ("mg-c", 1, 1, 1))
    body = cluster_body(("mg-a", "primary"), ("mg-b", "secondary"), ("mg-c", "arbiter"), name="mongo-orders")
    response = dba_api.post("/api/mongodb/Cluster", json=body)
    assert response.status_code == 201, response.content
    assert Application.objects.get().cost_centre == "OLD"  # an existing application is not overwritten
    assert Server.objects.filter(status=PoolStatus.USED, cluster__name="mongo-orders").count() == 3


@pytest.mark.django_db
def test_another_callers_reservation_cannot_create_a_cluster(reservation):
    thief = make_client(make_user("mallory-dba", "dba"))
    before = db_state()
    body = assert_problem(
        thief.post(CLUSTER, json=cluster_body(("db-1", "primary"), ("db-2", "replica"))), 409
    )
    assert "Locked by another caller" in body["detail"]
    assert db_state() == before


@pytest.mark.django_db
def test_reservation_id_must_match(dba_api, dba_user, reservation):
    services.pull_and_lock(
        "postgresql", 1, cpu=1, ram=1, db_gigs=1, user=dba_user
    )  # spare-1, other reservation
    before = db_state()
    body = cluster_body(
        ("db-1", "primary"), ("spare-1", "replica"), reservationId=str(reservation.reservation_id)
    )
    assert "another reservation" in assert_problem(dba_api.post(CLUSTER, json=body), 409)["detail"]
    assert db_state() == before


BAD_CLUSTER_BODIES = [
    pytest.param(cluster_body(), 422, id="no-servers"),
    pytest.param(cluster_body(("db-1", "primary"), ("ghost", "replica")), 404, id="unknown-server"),
    pytest.param(cluster_body(("db-1", "primary"), ("db-2", "primary")), 422, id="two-pg-primaries"),
    pytest.param(cluster_body(("db-1", "secondary")), 422, id="mongo-role-on-pg"),
    pytest.param(cluster_body(("db-1", "emperor")), 422, id="unknown-role"),
    pytest.param(cluster_body(("db-1", "primary"), ("db-1", "replica")), 422, id="server-twice"),
    pytest.param(cluster_body(("db-1", "primary"), name="bad name!"), 422, id="bad-cluster-name"),
    pytest.param(
        {**cluster_body(("db-1", "primary")), "cluster": {"name": "x", "environment": "mars"}},
        422,
        id="bad-env",
    ),
    pytest.param({"cluster": {"name": "x"}, "servers": [{"serverName": "db-1"}]}, 422, id="no-application"),
    pytest.param({**cluster_body(("db-1", "primary")), "servers": "db-1"}, 422, id="wrong-type"),
    pytest.param(cluster_body(("db-1", "primary"), reservationId="not-a-uuid"), 422, id="bad-reservation-id"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("body,status", BAD_CLUSTER_BODIES)
def test_create_cluster_bad_input_changes_nothing(dba_api, reservation, body, status):
    before = db_state()
    assert_problem(dba_api.post(CLUSTER, json=body), status)
    assert db_state() == before


@pytest.mark.django_db
def test_create_cluster_conflicts_change_nothing(dba_api, dba_user, reservation, add_pool):
    dba_api.post(CLUSTER, json=cluster_body(("db-1", "primary")))
    add_pool("mongodb", ("mg-x", 1, 1, 1))
    services.retire_pool_servers("postgresql", ["spare-1"])
    before = db_state()
    assert_problem(dba_api.post(CLUSTER, json=cluster_body(("db-2", "primary"))), 409)  # name taken
    assert_problem(dba_api.post(CLUSTER, json=cluster_body(("db-1", "primary"), name="pg-two")), 409)  # Used
    assert_problem(
        dba_api.post(CLUSTER, json=cluster_body(("spare-1", "primary"), name="pg-3")), 409
    )  # Retired
    assert_problem(
        dba_api.post(CLUSTER, json=cluster_body(("mg-x", "primary"), name="pg-4")), 404
    )  # other type
    assert_problem(
        dba_api.post("/api/oracle/Cluster", json=cluster_body(("db-2", "primary"), name="pg-5")), 404
    )
    assert_problem(dba_api.post(CLUSTER, data="{]"), 400)
    assert db_state() == before


@pytest.mark.django_db
def test_cluster_writes_need_dba(readonly_api, viewer_api, owner_api, reservation):
    before = db_state()
    for api in (readonly_api, viewer_api, owner_api):
        assert_problem(api.post(CLUSTER, json=cluster_body(("db-1", "primary"))), 403)
    assert db_state() == before


@pytest.mark.django_db
def test_get_unknown_cluster(viewer_api):
    assert_problem(viewer_api.get("/api/postgresql/Cluster/nope"), 404)
    assert_problem(viewer_api.get("/api/db2/Cluster/nope"), 404)


@pytest.mark.django_db
def test_owners_see_only_their_applications_clusters(owner_user, owner_api, dba_user, add_pool):
    add_pool("postgresql", ("o-1", 1, 1, 1), ("o-2", 1, 1, 1))
    for name, server in (("pg-mine", "o-1"), ("pg-theirs", "o-2")):
        services.create_cluster(
            "postgresql",
            application=services.ApplicationSpec(name.removeprefix("pg-")),
            cluster=services.ClusterSpec(name),
            members=[services.Member(server, "primary")],
            user=dba_user,
        )
    Application.objects.get(name="mine").owners.add(owner_user)
    assert owner_api.get("/api/postgresql/Cluster/pg-mine").status_code == 200
    assert_problem(owner_api.get("/api/postgresql/Cluster/pg-theirs"), 404)
    rows = owner_api.get("/api/postgresql/clustersServers").json()["items"]
    assert [r["cluster"] for r in rows] == ["pg-mine"]


# ---------------------------------------------------------------- clustersServers


def register_body(
    name="pg-legacy", app="legacy", servers=(("leg-1", "primary"), ("leg-2", "replica")), **cluster
):
    return {
        "application": {"name": app},
        "cluster": {"name": name, "environment": "prod", "dbVersion": "15.8", **cluster},
        "servers": [
            {
                "serverName": n,
                "role": r,
                "cpu": 8,
                "ram": 32,
                "dbGigs": 500,
                "port": 5432,
                "dbVersion": "15.8",
            }
            for n, r in servers
        ],
    }


@pytest.mark.django_db
def test_register_is_an_idempotent_upsert(dba_api):
    body = [
        register_body(),
        register_body("pg-legacy-uat", servers=(("leg-3", "primary"),), environment="uat"),
    ]
    first = dba_api.post("/api/postgresql/clustersServers/", json=body)
    assert first.status_code == 200, first.content
    assert first.json() == {
        "clustersCreated": 2,
        "clustersUpdated": 0,
        "serversCreated": 3,
        "serversUpdated": 0,
        "unchanged": 0,
    }
    before = db_state()
    again = dba_api.post("/api/postgresql/clustersServers", json=body)
    assert again.json() == {
        "clustersCreated": 0,
        "clustersUpdated": 0,
        "serversCreated": 0,
        "serversUpdated": 0,
        "unchanged": 5,
    }
    assert db_state() == before  # not even an activity row

    body[0]["servers"][1]["dbVersion"] = "15.9"
    body[0]["cluster"]["topology"] = "primary-replica"
    third = dba_api.post("/api/postgresql/clustersServers", json=body).json()
    assert (third["clustersUpdated"], third["serversUpdated"], third["unchanged"]) == (1, 1, 3)
    assert Server.objects.get(name="leg-2").db_version == "15.9"


@pytest.mark.django_db
def test_register_takes_free_pool_servers_but_not_locked_ones(dba_api, dba_user, add_pool):
    add_pool("postgresql", ("leg-1", 1, 1, 1), ("leg-2", 1, 1, 1))
    assert (
        dba_api.post(
            "/api/postgresql/clustersServers", json=[register_body(servers=(("leg-1", "primary"),))]
        ).status_code
        == 200
    )
    assert Server.objects.get(name="leg-1").status == PoolStatus.USED
    services.pull_and_lock("postgresql", 1, cpu=1, ram=1, db_gigs=1, user=dba_user)
    before = db_state()
    body = [register_body("pg-other", servers=(("leg-2", "primary"),))]
    assert (
        "Locked" in assert_problem(dba_api.post("/api/postgresql/clustersServers", json=body), 409)["detail"]
    )
    body = [register_body("pg-other", servers=(("leg-1", "primary"),))]
    assert (
        "another cluster"
        in assert_problem(dba_api.post("/api/postgresql/clustersServers", json=body), 409)["detail"]
    )
    assert db_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,status",
    [
        pytest.param([register_body(), register_body()], 422, id="cluster-twice"),
        pytest.param([register_body(), register_body("pg-b")], 422, id="server-twice"),
        pytest.param([register_body(servers=(("x-1", "arbiter"),))], 422, id="bad-role"),
        pytest.param([register_body(name="no spaces")], 422, id="bad-name"),
        pytest.param(
            [{**register_body(), "servers": [{"serverName": "x-1", "cpu": -1, "ram": 1, "dbGigs": 1}]}],
            422,
            id="negative-cpu",
        ),
        pytest.param([{**register_body(), "servers": [{"serverName": "x-1"}]}], 422, id="missing-sizes"),
        pytest.param(register_body(), 422, id="object-not-list"),
        pytest.param([{"cluster": {"name": "c"}}], 422, id="no-application"),
    ],
)
def test_register_bad_input_changes_nothing(dba_api, body, status):
    before = db_state()
    assert_problem(dba_api.post("/api/postgresql/clustersServers", json=body), status)
    assert db_state() == before


@pytest.mark.django_db
def test_register_refuses_a_cluster_of_another_type(dba_api):
    dba_api.post(
        "/api/mongodb/clustersServers", json=[register_body("shared-name", servers=(("mg-9", "primary"),))]
    )
    before = db_state()
    assert_problem(
        dba_api.post("/api/postgresql/clustersServers", json=[register_body("shared-name", servers=())]), 409
    )
    assert_problem(dba_api.post("/api/postgresql/clustersServers", data="nope"), 400)
    assert_problem(dba_api.post("/api/nosql/clustersServers", json=[]), 404)
    assert db_state() == before


@pytest.fixture
def fleet(dba_api):
    dba_api.post(
        "/api/postgresql/clustersServers",
        json=[
            register_body("pg-pay", "payments", (("pay-1", "primary"), ("pay-2", "replica"))),
            register_body("pg-pay-uat", "payments", (("payu-1", "primary"),), environment="uat"),
            register_body("pg-old", "legacy", (("old-1", "primary"),), status="decommissioned"),
        ],
    )
    dba_api.post(
        "/api/mongodb/clustersServers", json=[register_body("mg-pay", "payments", (("mgp-1", "primary"),))]
    )


@pytest.mark.django_db
def test_clusters_servers_lists_active_used_servers_with_filters(viewer_api, fleet):
    rows = viewer_api.get("/api/postgresql/clustersServers/").json()
    assert rows["count"] == 3
    assert [(r["cluster"], r["serverName"], r["role"]) for r in rows["items"]] == [
        ("pg-pay", "pay-1", "primary"),
        ("pg-pay", "pay-2", "replica"),
        ("pg-pay-uat", "payu-1", "primary"),
    ]
    first = rows["items"][0]
    assert first == {
        "serverName": "pay-1",
        "dbmsType": "postgresql",
        "cluster": "pg-pay",
        "application": "payments",
        "environment": "prod",
        "role": "primary",
        "host": "pay-1",
        "port": 5432,
        "datacenter": "",
        "cpu": 8,
        "ram": 32,
        "dbGigs": 500,
        "osVersion": "",
        "dbVersion": "15.8",
        "clusterDbVersion": "15.8",
        "topology": "",
    }

    def names(**q):
        return [
            r["serverName"] for r in viewer_api.get("/api/postgresql/clustersServers", **q).json()["items"]
        ]

    assert names(environment="uat") == ["payu-1"]
    assert names(role="replica") == ["pay-2"]
    assert names(cluster="pg-pay", role="primary") == ["pay-1"]
    assert names(application="legacy") == []
    assert names(application="payments") == ["pay-1", "pay-2", "payu-1"]
    assert_problem(viewer_api.get("/api/postgresql/clustersServers", environment="moon"), 422)
    assert_problem(viewer_api.get("/api/postgresql/clustersServers", format="xml"), 422)
    assert_problem(viewer_api.get("/api/nope/clustersServers"), 404)


@pytest.mark.django_db
def test_ansible_inventory_format(viewer_api, fleet):
    inv = viewer_api.get("/api/postgresql/clustersServers", format="ansible").json()
    assert inv["_meta"]["hostvars"]["pay-2"]["ansible_host"] == "pay-2"
    assert inv["_meta"]["hostvars"]["pay-2"]["rocketdbaas_role"] == "replica"
    assert inv["_meta"]["hostvars"]["pay-2"]["rocketdbaas_db_port"] == 5432
    assert inv["postgresql"]["hosts"] == ["pay-1", "pay-2", "payu-1"]
    assert inv["cluster_pg_pay"]["hosts"] == ["pay-1", "pay-2"]
    assert inv["env_uat"]["hosts"] == ["payu-1"]
    assert inv["app_payments"]["hosts"] == ["pay-1", "pay-2", "payu-1"]
    assert inv["role_primary"]["hosts"] == ["pay-1", "payu-1"]
    assert inv["ungrouped"] == {"hosts": []}
    assert set(inv["all"]["children"]) == set(inv) - {"_meta", "all"}


@pytest.mark.django_db
def test_clusters_servers_query_count_is_constant(viewer_api, dba_api):
    def grow(n, start):
        dba_api.post(
            "/api/postgresql/clustersServers",
            json=[
                register_body(
                    f"pg-{i}", f"app-{i % 3}", ((f"srv-{i}-a", "primary"), (f"srv-{i}-b", "replica"))
                )
                for i in range(start, start + n)
            ],
        )

    def queries(**params):
        with CaptureQueriesContext(connection) as ctx:
            response = viewer_api.get("/api/postgresql/clustersServers", **params)
        assert response.status_code == 200
        return response.json(), [q["sql"] for q in ctx.captured_queries]

    grow(2, 0)
    queries()  # the token's first use stamps last_used_at; later calls don't
    small, small_sql = queries()
    grow(40, 2)
    big, big_sql = queries()
    ansible, ansible_sql = queries(format="ansible")
    assert (small["count"], big["count"], len(ansible["_meta"]["hostvars"])) == (4, 84, 84)
    assert len(small_sql) == len(big_sql) == len(ansible_sql)
    assert sum("inventory_server" in sql for sql in big_sql) == 1  # the rows, joined, in one query


# ---------------------------------------------------------------- applications


@pytest.mark.django_db
def test_application_crud(dba_api, viewer_api, owner_user):
    response = dba_api.post(
        "/api/applications", json={"name": "crm", "costCentre": "CC-1", "owners": ["olga-owner"]}
    )
    assert response.status_code == 201, response.content
    assert response.json()["owners"] == ["olga-owner"]
    assert viewer_api.get("/api/applications/crm").json()["costCentre"] == "CC-1"
    listed = viewer_api.get("/api/applications/").json()
    assert listed["count"] == 1 and listed["items"][0]["name"] == "crm"
    response = dba_api.patch(
        "/api/applications/crm", json={"description": "Customer relations", "owners": []}
    )
    assert response.status_code == 200
    assert response.json()["description"] == "Customer relations" and response.json()["owners"] == []
    assert response.json()["costCentre"] == "CC-1"


@pytest.mark.django_db
def test_application_owner_edits_own_application_only(owner_api, owner_user):
    mine = Application.objects.create(name="mine")
    mine.owners.add(owner_user)
    Application.objects.create(name="theirs")
    assert [a["name"] for a in owner_api.get("/api/applications").json()["items"]] == ["mine"]
    assert owner_api.patch("/api/applications/mine", json={"costCentre": "CC-9"}).status_code == 200
    before = db_state()
    assert_problem(owner_api.patch("/api/applications/mine", json={"owners": []}), 403)
    assert_problem(owner_api.patch("/api/applications/theirs", json={"costCentre": "X"}), 404)
    assert_problem(owner_api.post("/api/applications", json={"name": "new"}), 403)
    assert db_state() == before


@pytest.mark.django_db
def test_application_bad_input(dba_api, viewer_api):
    Application.objects.create(name="crm")
    before = db_state()
    assert_problem(dba_api.post("/api/applications", json={"name": "crm"}), 409)
    assert_problem(dba_api.post("/api/applications", json={"name": ""}), 422)
    assert_problem(dba_api.post("/api/applications", json={"name": "x", "owners": ["nobody"]}), 422)
    assert_problem(dba_api.post("/api/applications", json={"name": 5}), 422)
    assert_problem(dba_api.post("/api/applications", data="{"), 400)
    assert_problem(dba_api.patch("/api/applications/ghost", json={"description": "x"}), 404)
    assert_problem(dba_api.patch("/api/applications/crm", json={"owners": "bob"}), 422)
    assert_problem(dba_api.patch("/api/applications/crm", json={"owners": ["nobody"]}), 422)
    assert_problem(viewer_api.patch("/api/applications/crm", json={"description": "x"}), 403)
    assert_problem(viewer_api.get("/api/applications/ghost"), 404)
    assert_problem(viewer_api.get("/api/applications", limit=0), 422)
    assert db_state() == before
    assert Cluster.objects.count() == 0
