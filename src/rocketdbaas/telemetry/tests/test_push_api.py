"""The push API (sizes and versions) and the size series it feeds."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rocketdbaas.inventory.models import Server
from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.models import DatabaseInfo, SizeSample, VersionSample
from rocketdbaas.telemetry.tests.conftest import make_cluster

GIB = 1024**3
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def fleet(db):
    return {
        "orders": make_cluster("orders", members=[("orders-db1", 5432), ("orders-db2", 5432)]),
        "events": make_cluster("events", dbms_type="mongodb", members=[("events-rs1", 27017)]),
    }


def sample(**overrides):
    return {
        "cluster": "orders",
        "server": "orders-db1",
        "database": "sales",
        "sizeGigs": 12.5,
        "sampledAt": "2026-03-01T10:00:00Z",
        **overrides,
    }


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return body


def test_push_sizes_records_samples_and_the_cluster_databases(dba_api, fleet):
    r = dba_api.post(
        "/api/PostgreSQL/sizes",
        json={
            "samples": [
                sample(),
                sample(server="orders-db2", sizeGigs=12.25),
                sample(database="ledger", sizeGigs=0.5, sampledAt="2026-03-01T11:00:00+01:00"),
                sample(sizeGigs=13, sampledAt="2026-03-02T10:00:00Z"),
            ]
        },
    )
    assert r.status_code == 201, r.content
    assert r.json() == {"recorded": 4}
    assert SizeSample.objects.filter(source="pushed").count() == 4
    info = {d.name: d for d in DatabaseInfo.objects.filter(cluster=fleet["orders"])}
    assert info["sales"].size_bytes == 13 * GIB
    assert info["sales"].first_seen_at == T0 + timedelta(hours=10)
    assert info["ledger"].last_seen_at == T0 + timedelta(hours=10)  # 11:00+01:00 is 10:00Z
    # An older push after a newer one does not roll the current size back.
    dba_api.post("/api/postgresql/sizes/", json={"samples": [sample(sizeGigs=1)]})
    assert DatabaseInfo.objects.get(cluster=fleet["orders"], name="sales").size_bytes == 13 * GIB


BAD_SAMPLES = [
    ("unknown server", sample(server="nope-db9"), "samples[0].server"),
    ("unknown cluster", sample(cluster="nope"), "samples[0].cluster"),
    ("server of another cluster", sample(cluster="orders", server="events-rs1"), "samples[0].server"),
    ("cluster of another type", sample(cluster="events", server="events-rs1"), "samples[0].cluster"),
    ("negative size", sample(sizeGigs=-1), "samples.0.sizeGigs"),
    ("size not a number", sample(sizeGigs="big"), "samples.0.sizeGigs"),
    ("bad timestamp", sample(sampledAt="yesterday"), "samples.0.sampledAt"),
    ("timestamp without timezone", sample(sampledAt="2026-03-01T10:00:00"), "samples.0.sampledAt"),
    ("timestamp in the future", sample(sampledAt="2999-01-01T00:00:00Z"), "samples[0].sampledAt"),
    ("empty database name", sample(database=""), "samples.0.database"),
    ("NUL in a name", sample(server="orders-db1\x00"), "samples.0.server"),
    ("size beyond an exabyte", sample(sizeGigs=1e30), "samples.0.sizeGigs"),
    ("missing field", {k: v for k, v in sample().items() if k != "server"}, "samples.0.server"),
]


@pytest.mark.parametrize(("case", "bad", "field"), BAD_SAMPLES, ids=[c[0] for c in BAD_SAMPLES])
def test_push_sizes_with_bad_input_records_nothing(dba_api, fleet, case, bad, field):
    # The good sample first: all or nothing means it is not recorded either.
    r = dba_api.post("/api/postgresql/sizes", json={"samples": [sample(), bad]})
    body = assert_problem(r, 422)
    fields = {e["field"] for e in body["errors"]}
    assert field.replace("[0]", "[1]").replace(".0.", ".1.") in fields, body
    assert SizeSample.objects.count() == 0
    assert DatabaseInfo.objects.count() == 0


def test_push_sizes_body_problems(dba_api, fleet):
    assert_problem(dba_api.post("/api/postgresql/sizes", json={"samples": []}), 422)
    assert_problem(dba_api.post("/api/postgresql/sizes", data="not json"), 400)
    assert_problem(dba_api.post("/api/mysql/sizes", json={"samples": [sample()]}), 404)
    assert SizeSample.objects.count() == 0


@pytest.mark.parametrize(
    ("client", "status"),
    [("viewer_api", 403), ("readonly_api", 403), ("owner_api", 403), ("anon_api", 401)],
)
def test_push_needs_a_dba(request, fleet, client, status):
    api = request.getfixturevalue(client)
    assert_problem(api.post("/api/postgresql/sizes", json={"samples": [sample()]}), status)
    payload = {"versions": [{"server": "orders-db1", "version": "15.4", "sampledAt": "2026-03-01T10:00:00Z"}]}
    assert_problem(api.post("/api/postgresql/versions", json=payload), status)
    assert SizeSample.objects.count() == VersionSample.objects.count() == 0


def test_push_versions_updates_the_inventory_with_the_newest(dba_api, fleet):
    r = dba_api.post(
        "/api/postgresql/versions",
        json={
            "versions": [
                {
                    "server": "orders-db1",
                    "version": "15.4",
                    "role": "primary",
                    "sampledAt": "2026-03-01T10:00:00Z",
                },
                {
                    "server": "orders-db1",
                    "version": "15.6",
                    "role": "replica",
                    "sampledAt": "2026-03-02T10:00:00Z",
                },
                {
                    "server": "orders-db2",
                    "cluster": "orders",
                    "version": "15.6",
                    "sampledAt": "2026-03-02T10:00:00Z",
                },
            ]
        },
    )
    assert r.status_code == 201, r.content
    db1, db2 = Server.objects.get(name="orders-db1"), Server.objects.get(name="orders-db2")
    assert (db1.db_version, db1.role) == ("15.6", "replica")
    assert (db2.db_version, db2.role) == ("15.6", "")
    assert VersionSample.objects.get(server=db1, version="15.6").version_num == 150006
    # A late report of an older state is kept as history but does not change the inventory.
    r = dba_api.post(
        "/api/postgresql/versions",
        json={"versions": [{"server": "orders-db1", "version": "15.2", "sampledAt": "2026-02-01T00:00:00Z"}]},
    )
    assert r.status_code == 201
    db1.refresh_from_db()
    assert db1.db_version == "15.6"
    assert VersionSample.objects.filter(server=db1).count() == 3


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"version": "fifteen"}, "versions[1].version"),
        ({"version": "9.6"}, "versions[1].version"),
        ({"role": "secondary"}, "versions[1].role"),
        ({"server": "nope"}, "versions[1].server"),
        ({"cluster": "events"}, "versions[1].cluster"),
        ({"sampledAt": "not a time"}, "versions.1.sampledAt"),
    ],
)
def test_push_versions_with_bad_input_records_nothing(dba_api, fleet, bad, field):
    good = {"server": "orders-db1", "version": "15.4", "sampledAt": "2026-03-01T10:00:00Z"}
    body = assert_problem(
        dba_api.post("/api/postgresql/versions", json={"versions": [good, {**good, **bad}]}), 422
    )
    assert field in {e["field"] for e in body["errors"]}, body
    assert VersionSample.objects.count() == 0
    assert Server.objects.get(name="orders-db1").db_version == ""


@pytest.mark.parametrize(
    ("dbms", "server", "version", "number"),
    [
        ("postgresql", "orders-db1", "16.4 (Debian 16.4-1.pgdg120+1)", 160004),
        ("postgresql", "orders-db1", "15.20-p5", 150020),
        ("mongodb", "events-rs1", "6.0.19-16", 60019),
        ("mongodb", "events-rs1", "8.0.0-rc3", 80000),
    ],
)
def test_pushed_versions_as_the_fleet_reports_them(dba_api, fleet, dbms, server, version, number):
    r = dba_api.post(
        f"/api/{dbms}/versions",
        json={"versions": [{"server": server, "version": version, "sampledAt": "2026-03-01T10:00:00Z"}]},
    )
    assert r.status_code == 201, r.content
    assert VersionSample.objects.get().version_num == number
    assert Server.objects.get(name=server).db_version == version


def test_mongodb_versions_and_roles(dba_api, fleet):
    r = dba_api.post(
        "/api/mongodb/versions",
        json={
            "versions": [
                {
                    "server": "events-rs1",
                    "version": "7.0.12",
                    "role": "secondary",
                    "sampledAt": "2026-03-01T10:00:00Z",
                }
            ]
        },
    )
    assert r.status_code == 201, r.content
    assert VersionSample.objects.get().version_num == 70012
    assert Server.objects.get(name="events-rs1").role == "secondary"


# ---------------------------------------------------------------- the size series


def _samples(cluster, server, database, sizes_by_hour):
    SizeSample.objects.bulk_create(
        SizeSample(
            dbms_type=cluster.dbms_type,
            cluster=cluster,
            server=server,
            database=database,
            size_bytes=size,
            sampled_at=T0 + timedelta(hours=h),
            source="collected",
        )
        for h, size in sizes_by_hour
    )


def test_size_series_by_day_takes_the_largest_per_database_and_sums_the_cluster(viewer_api, fleet):
    orders = fleet["orders"]
    db1, db2 = Server.objects.get(name="orders-db1"), Server.objects.get(name="orders-db2")
    _samples(orders, db1, "sales", [(0, 100), (12, 150), (24, 200), (36, 260)])
    _samples(orders, db2, "sales", [(1, 100), (13, 155)])  # the replica, a little different
    _samples(orders, db1, "ledger", [(2, 10), (26, 20)])

    r = viewer_api.get(
        "/api/postgresql/Cluster/orders/sizes", since="2026-03-01T00:00:00Z", until="2026-03-03T00:00:00Z"
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["bucket"] == "day"
    series = {d["name"]: [(p["at"], p["sizeBytes"]) for p in d["points"]] for d in body["databases"]}
    day1, day2 = "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"
    assert series == {"ledger": [(day1, 10), (day2, 20)], "sales": [(day1, 155), (day2, 260)]}
    assert [(p["at"], p["sizeBytes"]) for p in body["total"]] == [(day1, 165), (day2, 280)]

    by_hour = viewer_api.get(
        "/api/postgresql/Cluster/orders/sizes",
        since="2026-03-01T00:00:00Z",
        until="2026-03-01T13:00:00Z",
        bucket="hour",
    ).json()
    assert [p["sizeBytes"] for p in by_hour["total"]] == [100, 100, 10, 150]

    by_month = viewer_api.get(
        "/api/postgresql/Cluster/orders/sizes",
        since="2026-02-01T00:00:00Z",
        until="2026-04-01T00:00:00Z",
        bucket="month",
    ).json()
    assert [(p["at"], p["sizeBytes"]) for p in by_month["total"]] == [("2026-03-01T00:00:00Z", 280)]

    by_week = viewer_api.get(
        "/api/postgresql/Cluster/orders/sizes",
        since="2026-02-20T00:00:00Z",
        until="2026-03-10T00:00:00Z",
        bucket="week",
    ).json()
    # 2026-03-01 is a Sunday: its week starts Monday 2026-02-23, the 2nd is the next week.
    assert [p["at"] for p in by_week["total"]] == ["2026-02-23T00:00:00Z", "2026-03-02T00:00:00Z"]


def test_size_series_query_count_does_not_grow_with_data(viewer_api, fleet):
    orders = fleet["orders"]
    db1 = Server.objects.get(name="orders-db1")
    url = "/api/postgresql/Cluster/orders/sizes"
    window = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-08T00:00:00Z"}

    _samples(orders, db1, "sales", [(0, 1)])
    viewer_api.get(url, **window)  # the token's first use of the minute records last_used_at
    with CaptureQueriesContext(connection) as small:
        assert viewer_api.get(url, **window).status_code == 200
    for n in range(20):
        _samples(orders, db1, f"db{n}", [(h, h * 1000) for h in range(0, 24 * 7, 3)])
    with CaptureQueriesContext(connection) as big:
        r = viewer_api.get(url, **window)
    assert r.status_code == 200
    assert len(r.json()["databases"]) == 21
    assert len(big.captured_queries) == len(small.captured_queries)
    # Authentication, the cluster, raw samples, daily rollups.
    assert len(big.captured_queries) <= 6


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"bucket": "minute"}, 422, "bucket"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, 422, "since"),
        ({"since": "2016-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z", "bucket": "hour"}, 422, "bucket"),
        ({"since": "2026-03-01T00:00:00"}, 422, "since"),
        ({"since": "soon"}, 422, None),
        ({"since": "0001-01-01T00:00:00Z", "until": "0001-01-02T00:00:00Z"}, 422, "since"),
    ],
)
def test_size_series_bad_parameters(viewer_api, fleet, params, status, field):
    body = assert_problem(viewer_api.get("/api/postgresql/Cluster/orders/sizes", **params), status)
    if field:
        assert field in {e["field"] for e in body["errors"]}


def test_size_series_visibility(fleet, owner_api, owner_user, viewer_api):
    assert_problem(viewer_api.get("/api/postgresql/Cluster/nope/sizes"), 404)
    assert_problem(viewer_api.get("/api/mongodb/Cluster/orders/sizes"), 404)  # orders is PostgreSQL
    # Owners see their own applications' clusters only.
    assert_problem(owner_api.get("/api/postgresql/Cluster/orders/sizes"), 404)
    fleet["orders"].application.owners.add(owner_user)
    assert owner_api.get("/api/postgresql/Cluster/orders/sizes").status_code == 200


def test_series_spans_raw_samples_and_daily_rollups(fleet):
    """Retention changes where the numbers live, not what the day/week/month series says."""
    orders = fleet["orders"]
    db1, db2 = Server.objects.get(name="orders-db1"), Server.objects.get(name="orders-db2")
    hours = range(0, 24 * 45, 5)
    _samples(orders, db1, "sales", [(h, 1000 + h * 7) for h in hours])
    _samples(orders, db2, "sales", [(h + 1, 1000 + h * 7 + 3) for h in hours])
    _samples(orders, db1, "ledger", [(h, 50 + (h % 24)) for h in hours])
    since, until = T0, T0 + timedelta(days=46)
    before = {b: services.size_series(orders, since, until, b) for b in ("day", "week", "month")}

    result = services.apply_retention(now=T0 + timedelta(days=46))

    assert result["samplesFolded"] > 0
    assert SizeSample.objects.filter(sampled_at__lt=T0 + timedelta(days=16)).count() == 0
    for bucket, series in before.items():
        assert services.size_series(orders, since, until, bucket) == series, bucket


def test_cluster_detail_section_lists_the_databases(dba_api, fleet):
    dba_api.post(
        "/api/postgresql/sizes", json={"samples": [sample(), sample(database="postgres", sizeGigs=0.01)]}
    )
    detail = dba_api.get(f"/api/postgresql/Cluster/{fleet['orders'].name}").json()
    assert [(d["name"], d["sizeGigs"], d["system"]) for d in detail["databases"]] == [
        ("postgres", 0.01, True),
        ("sales", 12.5, False),
    ]
    assert detail["lastCollected"] is None  # pushed, never collected
