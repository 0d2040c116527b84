from datetime import timedelta

import pytest
from django.utils import timezone

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import PoolStatus, Server
from rocketdbaas.inventory.tests.helpers import assert_problem, db_state

POOL = "/api/postgresql/poolServers"


def pull(api, n, method="post", dbms="postgresql", **q):
    params = {"cpu": 1, "ram": 1, "dbGigs": 1, **q}
    return getattr(api, method)(f"/api/{dbms}/poolServersPullAndLock/{n}", **params)


# ---------------------------------------------------------------- add


@pytest.mark.django_db
def test_add_one_server_or_a_list(dba_api):
    one = dba_api.post(
        "/api/PostgreSQL/poolServers/",
        json={"serverName": "pg-a1.example.com", "cpu": 4, "ram": 16, "dbGigs": 200, "port": 5432},
    )
    assert one.status_code == 201, one.content
    item = one.json()["items"][0]
    assert item["serverName"] == "pg-a1.example.com" and item["status"] == "Free" and item["dbGigs"] == 200
    assert item["address"] == "pg-a1.example.com"

    many = dba_api.post(
        POOL,
        json=[
            {
                "serverName": "pg-a2",
                "cpu": 2,
                "ram": 8,
                "dbGigs": 50,
                "host": "10.0.0.2",
                "datacenter": "dc1",
            },
            {"server_name": "pg-a3", "cpu": 8, "ram": 64, "db_gigs": 500, "environment": "uat"},
        ],
    )
    assert many.status_code == 201, many.content
    assert many.json()["count"] == 2
    assert Server.objects.filter(status=PoolStatus.FREE, dbms_type="postgresql").count() == 3
    added = Activity.objects.filter(type=ActivityType.POOL_CHANGE, server__name="pg-a2").get()
    assert added.recorded_by.username == "dave-dba" and added.details["to"] == "Free"


@pytest.mark.django_db
def test_duplicate_name_is_409_and_adds_nothing(dba_api, add_pool):
    add_pool("mongodb", ("taken-1", 2, 4, 10))
    before = db_state()
    response = dba_api.post(
        POOL,
        json=[
            {"serverName": "new-1", "cpu": 2, "ram": 4, "dbGigs": 10},
            {"serverName": "taken-1", "cpu": 2, "ram": 4, "dbGigs": 10},
        ],
    )
    body = assert_problem(response, 409)
    assert body["serverNames"] == ["taken-1"]
    assert db_state() == before


BAD_ADD_BODIES = [
    pytest.param({"cpu": 2, "ram": 4, "dbGigs": 10}, id="missing-name"),
    pytest.param({"serverName": "x1", "ram": 4, "dbGigs": 10}, id="missing-cpu"),
    pytest.param({"serverName": "x1", "cpu": 2, "dbGigs": 10}, id="missing-ram"),
    pytest.param({"serverName": "x1", "cpu": 2, "ram": 4}, id="missing-dbgigs"),
    pytest.param({"serverName": "x1", "cpu": -1, "ram": 4, "dbGigs": 10}, id="negative-cpu"),
    pytest.param({"serverName": "x1", "cpu": 2, "ram": -4, "dbGigs": 10}, id="negative-ram"),
    pytest.param({"serverName": "x1", "cpu": 2, "ram": 4, "dbGigs": 0}, id="zero-dbgigs"),
    pytest.param({"serverName": "x1", "cpu": "four", "ram": 4, "dbGigs": 10}, id="wrong-type"),
    pytest.param({"serverName": "x1", "cpu": 2, "ram": 4, "dbGigs": 10, "port": 70000}, id="bad-port"),
    pytest.param({"serverName": "x1", "cpu": 2, "ram": 4, "dbGigs": 10, "environment": "moon"}, id="bad-env"),
    pytest.param({"serverName": "not a hostname!", "cpu": 2, "ram": 4, "dbGigs": 10}, id="bad-hostname"),
    pytest.param([], id="empty-list"),
    pytest.param(
        [
            {"serverName": "d1", "cpu": 1, "ram": 1, "dbGigs": 1},
            {"serverName": "d1", "cpu": 1, "ram": 1, "dbGigs": 1},
        ],
        id="duplicate-in-body",
    ),
    pytest.param(
        [{"serverName": "ok-1", "cpu": 1, "ram": 1, "dbGigs": 1}, {"serverName": "bad"}], id="one-bad-of-two"
    ),
    pytest.param("a string", id="not-an-object"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", BAD_ADD_BODIES)
def test_add_bad_input_is_422_and_changes_nothing(dba_api, body):
    before = db_state()
    assert_problem(dba_api.post(POOL, json=body), 422)
    assert db_state() == before


@pytest.mark.django_db
def test_malformed_json_and_unknown_dbms_type(dba_api):
    before = db_state()
    assert_problem(dba_api.post(POOL, data="{not json"), 400)
    body = assert_problem(
        dba_api.post("/api/mysql/poolServers", json={"serverName": "m1", "cpu": 1, "ram": 1, "dbGigs": 1}),
        404,
    )
    assert body["validTypes"] == ["postgresql", "mongodb"]
    assert db_state() == before


@pytest.mark.django_db
def test_pool_writes_need_a_dba_write_token(readonly_api, viewer_api, owner_api, anon_api):
    body = {"serverName": "p1", "cpu": 1, "ram": 1, "dbGigs": 1}
    assert_problem(anon_api.post(POOL, json=body), 401)
    assert_problem(readonly_api.post(POOL, json=body), 403)
    assert_problem(viewer_api.post(POOL, json=body), 403)
    assert_problem(owner_api.post(POOL, json=body), 403)
    assert not Server.objects.exists()


# ---------------------------------------------------------------- list


@pytest.mark.django_db
def test_list_filters_by_status_and_minimums(viewer_api, add_pool):
    add_pool("postgresql", ("s-small", 2, 4, 50), ("s-mid", 4, 16, 200), ("s-big", 16, 128, 2000))
    add_pool("mongodb", ("m-1", 64, 512, 9000))
    services.retire_pool_servers("postgresql", ["s-small"])

    listed = viewer_api.get(POOL).json()
    assert [s["serverName"] for s in listed["items"]] == ["s-mid", "s-big"]
    assert listed["count"] == 2
    assert [s["serverName"] for s in viewer_api.get(POOL, cpu=5).json()["items"]] == ["s-big"]
    assert [s["serverName"] for s in viewer_api.get(POOL, ram=16, dbGigs=100).json()["items"]] == [
        "s-mid",
        "s-big",
    ]
    assert [s["serverName"] for s in viewer_api.get(POOL, status="Retired").json()["items"]] == ["s-small"]
    page = viewer_api.get(POOL, limit=1, offset=1).json()
    assert page["count"] == 2 and [s["serverName"] for s in page["items"]] == ["s-big"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params", [{"status": "Broken"}, {"cpu": -1}, {"dbGigs": "lots"}, {"limit": 0}, {"offset": -5}]
)
def test_list_bad_filters_are_422(viewer_api, params):
    assert_problem(viewer_api.get(POOL, **params), 422)


# ---------------------------------------------------------------- retire


@pytest.mark.django_db
def test_retire_free_servers_by_body_or_query(dba_api, add_pool):
    add_pool("postgresql", ("r-1", 2, 4, 10), ("r-2", 2, 4, 10), ("r-3", 2, 4, 10))
    response = dba_api.delete(POOL, json={"serverNames": ["r-1", "r-2"]})
    assert response.status_code == 200, response.content
    assert {s["status"] for s in response.json()["items"]} == {"Retired"}
    response = dba_api.delete(POOL + "/", serverName="r-3")
    assert response.status_code == 200
    assert Server.objects.filter(status=PoolStatus.RETIRED).count() == 3  # kept, never deleted
    assert Activity.objects.filter(details__to="Retired").count() == 3


@pytest.mark.django_db
def test_retire_is_all_or_nothing(dba_api, dba_user, add_pool):
    add_pool("postgresql", ("f-1", 2, 4, 10), ("l-1", 2, 4, 10))
    services.pull_and_lock("postgresql", 1, cpu=1, ram=1, db_gigs=1, user=dba_user)
    locked = Server.objects.get(status=PoolStatus.LOCKED).name
    before = db_state()
    body = assert_problem(dba_api.delete(POOL, json={"serverNames": ["f-1", "l-1"]}), 409)
    assert body["servers"] == [{"serverName": locked, "currentStatus": "Locked"}]
    assert db_state() == before
    assert_problem(dba_api.delete(POOL, json={"serverNames": ["f-1", "ghost"]}), 404)
    assert_problem(dba_api.delete(POOL), 422)
    assert_problem(dba_api.delete(POOL, json={"serverNames": []}), 422)
    assert_problem(dba_api.delete("/api/mongodb/poolServers", serverName="f-1"), 404)
    assert db_state() == before


# ---------------------------------------------------------------- pull and lock


@pytest.mark.django_db
def test_pull_and_lock_takes_the_smallest_that_fit(dba_api, dba_user, add_pool):
    add_pool(
        "postgresql",
        ("big", 32, 256, 4000),
        ("fit-b", 8, 32, 500),
        ("fit-a", 8, 32, 400),
        ("tiny", 2, 4, 100),
        ("fit-c", 16, 64, 400),
    )
    response = pull(dba_api, 2, cpu=8, ram=32, dbGigs=400)
    assert response.status_code == 200, response.content
    body = response.json()
    assert [s["serverName"] for s in body["servers"]] == ["fit-a", "fit-b"]
    assert body["count"] == 2 and body["lockedBy"] == "dave-dba"
    for s in Server.objects.filter(name__in=["fit-a", "fit-b"]):
        assert s.status == PoolStatus.LOCKED
        assert str(s.reservation_id) == body["reservationId"]
        assert s.locked_by == dba_user
        assert timedelta(minutes=59) < s.lease_expires_at - timezone.now() <= timedelta(hours=1)
    assert Activity.objects.filter(details__to="Locked").count() == 2


@pytest.mark.django_db
def test_pull_and_lock_get_form_does_the_same(dba_api, add_pool):
    add_pool("mongodb", ("mg-1", 4, 8, 100))
    response = pull(dba_api, 1, method="get", dbms="MongoDB", cpu=4)
    assert response.status_code == 200, response.content
    assert response.json()["servers"][0]["status"] == "Locked"


@pytest.mark.django_db
def test_pull_and_lock_is_all_or_nothing_with_how_many_match(dba_api, add_pool):
    add_pool("postgresql", ("a-1", 4, 16, 100), ("a-2", 4, 16, 100), ("a-3", 1, 1, 10))
    before = db_state()
    body = assert_problem(pull(dba_api, 3, cpu=4, ram=16, dbGigs=100), 409)
    assert body["matching"] == 2 and body["requested"] == 3
    assert db_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path_n,params,status",
    [
        ("0", {}, 422),
        ("101", {}, 422),
        ("1000000", {}, 422),
        ("-1", {}, 422),
        ("two", {}, 422),
        ("1", {"cpu": None}, 422),
        ("1", {"ram": -2}, 422),
        ("1", {"dbGigs": "x"}, 422),
    ],
)
def test_pull_and_lock_bad_input(dba_api, add_pool, path_n, params, status):
    add_pool("postgresql", ("b-1", 4, 16, 100))
    q = {k: v for k, v in {"cpu": 1, "ram": 1, "dbGigs": 1, **params}.items() if v is not None}
    before = db_state()
    assert_problem(dba_api.post(f"/api/postgresql/poolServersPullAndLock/{path_n}", **q), status)
    assert_problem(dba_api.get(f"/api/postgresql/poolServersPullAndLock/{path_n}", **q), status)
    assert db_state() == before


@pytest.mark.django_db
def test_pull_and_lock_refuses_read_only_callers_even_on_get(readonly_api, viewer_api, anon_api, add_pool):
    add_pool("postgresql", ("c-1", 4, 16, 100))
    before = db_state()
    for api in (readonly_api, viewer_api):
        assert_problem(pull(api, 1, method="get"), 403)
        assert_problem(pull(api, 1, method="post"), 403)
    assert_problem(pull(anon_api, 1, method="get"), 401)
    assert db_state() == before


@pytest.mark.django_db
def test_browser_session_must_use_post_to_pull(client, dba_user, add_pool):
    add_pool("postgresql", ("c-2", 4, 16, 100))
    client.force_login(dba_user)
    response = client.get("/api/postgresql/poolServersPullAndLock/1", {"cpu": 1, "ram": 1, "dbGigs": 1})
    assert_problem(response, 403)
    assert Server.objects.get().status == PoolStatus.FREE


@pytest.mark.django_db
def test_expired_leases_return_to_free_when_pulling(dba_api, dba_user, admin_user, add_pool):
    add_pool("postgresql", ("e-1", 4, 16, 100))
    first = services.pull_and_lock("postgresql", 1, cpu=1, ram=1, db_gigs=1, user=admin_user)
    assert_problem(pull(dba_api, 1), 409)
    Server.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    response = pull(dba_api, 1)
    assert response.status_code == 200, response.content
    assert response.json()["reservationId"] != str(first.reservation_id)
    expiry = Activity.objects.get(details__reason="lease expired")
    assert expiry.server.name == "e-1" and expiry.recorded_by is None
    assert expiry.details["reservationId"] == str(first.reservation_id)


@pytest.mark.django_db
def test_release_expired_leases_task(dba_user, add_pool):
    from rocketdbaas.inventory.tasks import release_expired_pool_leases

    add_pool("postgresql", ("t-1", 4, 16, 100), ("t-2", 4, 16, 100))
    add_pool("mongodb", ("t-3", 4, 16, 100))
    services.pull_and_lock("postgresql", 2, cpu=1, ram=1, db_gigs=1, user=dba_user, lease_seconds=60)
    services.pull_and_lock("mongodb", 1, cpu=1, ram=1, db_gigs=1, user=dba_user, lease_seconds=60)
    Server.objects.filter(name__in=["t-1", "t-3"]).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert release_expired_pool_leases.call() == 2
    assert dict(Server.objects.values_list("name", "status")) == {
        "t-1": "Free",
        "t-2": "Locked",
        "t-3": "Free",
    }
    freed = Server.objects.get(name="t-1")
    assert freed.reservation_id is None and freed.locked_by is None and freed.lease_expires_at is None
    assert release_expired_pool_leases.call() == 0


# ---------------------------------------------------------------- PATCH status


@pytest.fixture
def locked_pair(dba_user, add_pool):
    add_pool("postgresql", ("k-1", 4, 16, 100), ("k-2", 4, 16, 100))
    return services.pull_and_lock("postgresql", 2, cpu=1, ram=1, db_gigs=1, user=dba_user)


@pytest.fixture
def empty_cluster(db):
    from rocketdbaas.inventory.models import Application, Cluster

    app = Application.objects.create(name="billing")
    return Cluster.objects.create(name="pg-billing", dbms_type="postgresql", application=app)


@pytest.mark.django_db
def test_patch_locked_to_used_then_free(dba_api, locked_pair, empty_cluster):
    response = dba_api.patch(
        POOL + "/k-1", json={"status": "Used", "cluster": "pg-billing", "role": "primary"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["cluster"], body["role"], body["reservationId"]) == (
        "Used",
        "pg-billing",
        "primary",
        None,
    )

    response = dba_api.patch(POOL + "/k-1/", json={"status": "Free"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cluster"]) == ("Free", None)

    response = dba_api.patch(POOL + "/k-2", json={"status": "Free"})  # released on failure
    assert response.json()["status"] == "Free" and response.json()["lockedBy"] is None
    changes = list(
        Activity.objects.filter(details__from__in=["Locked", "Used"]).values_list("summary", flat=True)
    )
    assert len(changes) == 3


@pytest.mark.django_db
def test_patch_illegal_transitions_are_409_naming_the_state(dba_api, add_pool, empty_cluster):
    add_pool("postgresql", ("f-9", 4, 16, 100))
    services.retire_pool_servers("postgresql", ["f-9"])
    add_pool("postgresql", ("f-8", 4, 16, 100))
    before = db_state()
    body = assert_problem(dba_api.patch(POOL + "/f-8", json={"status": "Free"}), 409)
    assert body["currentStatus"] == "Free"
    body = assert_problem(dba_api.patch(POOL + "/f-8", json={"status": "Used", "cluster": "pg-billing"}), 409)
    assert body["currentStatus"] == "Free"
    body = assert_problem(dba_api.patch(POOL + "/f-9", json={"status": "Free"}), 409)
    assert body["currentStatus"] == "Retired"
    assert db_state() == before


@pytest.mark.django_db
def test_patch_bad_input(dba_api, locked_pair, empty_cluster):
    before = db_state()
    assert_problem(dba_api.patch(POOL + "/ghost", json={"status": "Free"}), 404)
    assert_problem(dba_api.patch("/api/mongodb/poolServers/k-1", json={"status": "Free"}), 404)
    assert_problem(dba_api.patch(POOL + "/k-1", json={"status": "Retired"}), 422)
    assert_problem(dba_api.patch(POOL + "/k-1", json={"status": "Locked"}), 422)
    assert_problem(dba_api.patch(POOL + "/k-1", json={}), 422)
    assert_problem(dba_api.patch(POOL + "/k-1", data="status=Used"), 400)
    assert_problem(dba_api.patch(POOL + "/k-1", json={"status": "Used"}), 422)  # which cluster?
    assert_problem(dba_api.patch(POOL + "/k-1", json={"status": "Used", "cluster": "nope"}), 404)
    assert_problem(
        dba_api.patch(POOL + "/k-1", json={"status": "Used", "cluster": "pg-billing", "role": "arbiter"}), 422
    )
    assert_problem(
        dba_api.patch(POOL + "/k-1", json={"status": "Used", "cluster": "pg-billing", "role": "boss"}), 422
    )
    assert db_state() == before


@pytest.mark.django_db
def test_patch_cannot_use_another_callers_lock(admin_user, locked_pair, empty_cluster):
    from tests.support.fixtures import make_client, make_user

    other = make_client(make_user("otto-dba", "dba"))
    before = db_state()
    body = assert_problem(other.patch(POOL + "/k-1", json={"status": "Used", "cluster": "pg-billing"}), 409)
    assert body["currentStatus"] == "Locked"
    assert_problem(other.patch(POOL + "/k-1", json={"status": "Free"}), 409)
    assert db_state() == before
    # An admin may release a stuck reservation.
    assert make_client(admin_user).patch(POOL + "/k-1", json={"status": "Free"}).status_code == 200


@pytest.mark.django_db
def test_oversized_body_is_413_and_changes_nothing(dba_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = [{"serverName": f"big-{i}", "cpu": 1, "ram": 1, "dbGigs": 1} for i in range(100)]
    before = db_state()
    assert_problem(dba_api.post(POOL, json=body), 413)
    assert db_state() == before
