"""MongoDB patch order and health checks, on recorded server replies.

No mongod can be installed on these machines, so the MongoDB module's ordering and check logic
is tested on `hello` and `replSetGetStatus` documents as a 7.0 replica set returns them (a
primary, a secondary, a hidden secondary and an arbiter), captured and trimmed to the fields used.
"""

from datetime import datetime, timedelta

import pytest

from rocketdbaas.dbms import mongodb
from rocketdbaas.dbms.base import HealthLimits, patch_order

T0 = datetime(2026, 11, 2, 3, 0, 0)

HELLO = {
    "db1.example.com:27017": {
        "topologyVersion": {"counter": 6},
        "hosts": ["db1.example.com:27017", "db2.example.com:27017"],
        "passives": ["db3.example.com:27017"],
        "arbiters": ["db4.example.com:27017"],
        "setName": "rs0",
        "setVersion": 3,
        "isWritablePrimary": True,
        "secondary": False,
        "primary": "db1.example.com:27017",
        "me": "db1.example.com:27017",
        "maxWireVersion": 21,
        "ok": 1.0,
    },
    "db2.example.com:27017": {
        "setName": "rs0",
        "isWritablePrimary": False,
        "secondary": True,
        "primary": "db1.example.com:27017",
        "me": "db2.example.com:27017",
        "ok": 1.0,
    },
    "db3.example.com:27017": {
        "setName": "rs0",
        "isWritablePrimary": False,
        "secondary": True,
        "passive": True,
        "hidden": True,
        "primary": "db1.example.com:27017",
        "me": "db3.example.com:27017",
        "ok": 1.0,
    },
    "db4.example.com:27017": {
        "setName": "rs0",
        "isWritablePrimary": False,
        "secondary": False,
        "arbiterOnly": True,
        "primary": "db1.example.com:27017",
        "me": "db4.example.com:27017",
        "ok": 1.0,
    },
}


def member(i, name, state, health=1, optime=T0, **extra):
    return {
        "_id": i,
        "name": name,
        "health": health,
        "state": {"PRIMARY": 1, "SECONDARY": 2, "RECOVERING": 3, "ARBITER": 7, "(not reachable/healthy)": 8}[
            state
        ],
        "stateStr": state,
        "optimeDate": optime,
        **extra,
    }


def status(*members):
    return {
        "set": "rs0",
        "date": T0 + timedelta(seconds=1),
        "myState": 1,
        "members": list(members),
        "ok": 1.0,
    }


HEALTHY = status(
    member(0, "db1.example.com:27017", "PRIMARY", self=True),
    member(1, "db2.example.com:27017", "SECONDARY", optime=T0 - timedelta(seconds=1)),
    member(2, "db3.example.com:27017", "SECONDARY", optime=T0 - timedelta(seconds=2)),
    member(3, "db4.example.com:27017", "ARBITER", optime=None),
)
NAMES = {f"db{i}.example.com:27017": f"db{i}" for i in range(1, 5)}
LIMITS = HealthLimits(max_lag_seconds=30)


def test_roles_from_hello_and_patch_order_puts_the_primary_last():
    roles = {NAMES[host]: mongodb.role_from_hello(doc) for host, doc in HELLO.items()}
    assert roles == {"db1": "primary", "db2": "secondary", "db3": "hidden", "db4": "arbiter"}
    primary, problems = mongodb.health_from_repl_status(HEALTHY, LIMITS, NAMES)
    assert (primary, problems) == ("db1.example.com:27017", [])
    assert patch_order(mongodb, roles, NAMES[primary]) == ["db3", "db2", "db4", "db1"]


def test_the_primary_is_last_even_when_hello_and_inventory_disagree():
    # After an election the old primary reports secondary: the replica set's view decides.
    roles = {"db1": "secondary", "db2": "primary", "db3": "hidden"}
    assert patch_order(mongodb, roles, "db2")[-1] == "db2"
    assert patch_order(mongodb, {"a": "secondary", "b": "secondary"}, None) == ["a", "b"]


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        (
            [
                member(0, "db1.example.com:27017", "PRIMARY"),
                member(1, "db2.example.com:27017", "SECONDARY", optime=T0 - timedelta(seconds=45)),
            ],
            ["db2 is 45s behind the primary (limit 30s)"],
        ),
        (
            [
                member(0, "db1.example.com:27017", "PRIMARY"),
                member(
                    1,
                    "db2.example.com:27017",
                    "(not reachable/healthy)",
                    health=0,
                    lastHeartbeatMessage="Error connecting to db2.example.com:27017 :: caused by :: Connection refused",
                ),
            ],
            ["db2 is down (Error connecting to db2.example.com:27017 :: caused by :: Connection refused)"],
        ),
        (
            [member(0, "db1.example.com:27017", "PRIMARY"), member(1, "db2.example.com:27017", "RECOVERING")],
            ["db2 is RECOVERING"],
        ),
        (
            [
                member(0, "db1.example.com:27017", "SECONDARY"),
                member(1, "db2.example.com:27017", "SECONDARY"),
            ],
            ["expected one primary, found 0"],
        ),
    ],
)
def test_unhealthy_replica_sets_are_reported(members, expected):
    primary, problems = mongodb.health_from_repl_status(status(*members), LIMITS, NAMES)
    assert problems == expected
    assert primary == (None if "primary, found" in expected[0] else "db1.example.com:27017")


def test_lag_within_the_limit_is_healthy_and_unknown_members_keep_their_names():
    doc = status(
        member(0, "10.0.0.1:27017", "PRIMARY"),
        member(1, "10.0.0.2:27017", "SECONDARY", optime=T0 - timedelta(seconds=29)),
    )
    assert mongodb.health_from_repl_status(doc, LIMITS) == ("10.0.0.1:27017", [])
    lagging = status(
        member(0, "10.0.0.1:27017", "PRIMARY"),
        member(1, "10.0.0.2:27017", "SECONDARY", optime=T0 - timedelta(seconds=31)),
    )
    assert mongodb.health_from_repl_status(lagging, LIMITS)[1] == [
        "10.0.0.2:27017 is 31s behind the primary (limit 30s)"
    ]


def test_the_default_for_the_primary_is_a_step_down():
    assert mongodb.DEFAULT_PRIMARY_STRATEGY == "switchover"
    assert hasattr(mongodb, "step_down")
