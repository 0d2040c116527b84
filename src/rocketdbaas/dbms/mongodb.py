"""MongoDB: roles come from the `hello` command; versions from `buildInfo`.

The parsing functions take the server's documents as they are, so they can be tested on
recorded replies (no mongod can be installed on these machines)."""

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rocketdbaas.dbms.base import ClusterHealth, ConnectionTarget, DatabaseSize, HealthLimits, ServerState
from rocketdbaas.dbms.versions import Version

DEFAULT_PORT = 27017
DEFAULT_USER = ""
DEFAULT_DBNAME = "admin"
ROLES = ("primary", "secondary", "arbiter", "hidden", "config", "mongos")
PRIMARY_ROLE = "primary"
# Internal databases (users, sharding metadata, the oplog); they take disk but hold no app data.
SYSTEM_DATABASES = ("admin", "config", "local")


def role_from_hello(hello: dict[str, Any]) -> str:
    if hello.get("msg") == "isdbgrid":
        return "mongos"
    if hello.get("arbiterOnly"):
        return "arbiter"
    if hello.get("hidden"):
        return "hidden"
    if hello.get("isWritablePrimary") or hello.get("ismaster"):
        return "config" if hello.get("configsvr") else "primary"
    if hello.get("secondary"):
        return "config" if hello.get("configsvr") else "secondary"
    return "unknown"


def version_from_build_info(build_info: dict[str, Any]) -> tuple[str, int]:
    """ "7.0.12" -> ("7.0.12", 70012): major*10000 + minor*100 + patch, comparable as an int."""
    version = str(build_info.get("version", "0.0.0"))
    parts = build_info.get("versionArray") or Version(version).release
    major, minor, patch = ([int(p) for p in parts[:3]] + [0, 0, 0])[:3]
    return version, major * 10000 + minor * 100 + patch


def client(target: ConnectionTarget):
    from pymongo import MongoClient

    timeout_ms = int(target.connect_timeout * 1000)
    return MongoClient(
        host=target.host,
        port=target.port,
        username=target.user or None,
        password=target.password or None,
        directConnection=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        appname="rocketdbaas",
    )


def read_state(target: ConnectionTarget) -> ServerState:
    from pymongo.errors import OperationFailure, PyMongoError

    try:
        with client(target) as c:
            hello = c.admin.command("hello")
            build_info = c.admin.command("buildInfo")
    except OperationFailure as exc:
        reason = "authentication failed" if exc.code in (13, 18) else str(exc)[:300]
        return ServerState(reachable=False, error=reason)
    except PyMongoError as exc:
        return ServerState(reachable=False, error=f"unreachable: {type(exc).__name__}")
    version, version_num = version_from_build_info(build_info)
    return ServerState(reachable=True, role=role_from_hello(hello), version=version, version_num=version_num)


def parse_version(text: str) -> int | None:
    """ "7.0.12" -> 70012, "6.0.19-16" -> 60019; None if it is not a MongoDB version."""
    version = Version(text)
    if version.is_unknown or version.family or not 2 <= len(version.release) <= 3:
        return None
    major, minor, patch = (*version.release, 0)[:3]
    return major * 10000 + minor * 100 + patch if minor < 100 and patch < 100 else None


def databases_from_list(list_databases: dict[str, Any]) -> list[DatabaseSize]:
    """listDatabases -> each database's sizeOnDisk (through mongos: the sum over its shards)."""
    return [
        DatabaseSize(str(db["name"]), int(db["sizeOnDisk"]))
        for db in list_databases.get("databases", [])
        if db.get("sizeOnDisk") is not None
    ]


def replication_from_hello(hello: dict[str, Any]) -> dict[str, Any]:
    """The replica set as this member sees it. Lag is the gap between the members' lastWriteDate."""
    if "setName" not in hello:
        return {}
    last_write = (hello.get("lastWrite") or {}).get("lastWriteDate")
    if isinstance(last_write, datetime) and last_write.tzinfo is None:
        last_write = last_write.replace(tzinfo=UTC)  # BSON dates are UTC; the driver drops the zone
    return {
        "setName": hello["setName"],
        "me": hello.get("me"),
        "primary": hello.get("primary"),
        "hosts": list(hello.get("hosts", [])),
        "passives": list(hello.get("passives", [])),
        "arbiters": list(hello.get("arbiters", [])),
        "lastWriteDate": last_write.isoformat() if isinstance(last_write, datetime) else last_write,
    }


def probe(target: ConnectionTarget) -> ServerState:
    """Everything the collector records: buildInfo version, hello role, listDatabases sizes."""
    from pymongo.errors import OperationFailure, PyMongoError

    try:
        with client(target) as c:
            hello = c.admin.command("hello")
            build_info = c.admin.command("buildInfo")
            role = role_from_hello(hello)
            # Arbiters hold no data and refuse listDatabases.
            listed = {} if role == "arbiter" else c.admin.command("listDatabases", nameOnly=False)
    except OperationFailure as exc:
        reason = (
            "authentication failed"
            if exc.code in (13, 18)
            else f"error: {(exc.details or {}).get('codeName') or exc.code}"
        )
        return ServerState(reachable=False, error=reason)
    except PyMongoError as exc:
        kind = "timeout" if "timed out" in str(exc).lower() else "unreachable"
        return ServerState(reachable=False, error=f"{kind}: {type(exc).__name__}")
    version, version_num = version_from_build_info(build_info)
    return ServerState(
        reachable=True,
        role=role,
        version=version,
        version_num=version_num,
        details=replication_from_hello(hello),
        databases=databases_from_list(listed),
    )


# ---------------------------------------------------------------- rolling patching

SECONDARY_ROLE = "secondary"
# replSetStepDown is built in, so the primary is handed over unless a cluster says otherwise.
DEFAULT_PRIMARY_STRATEGY = "switchover"
_HEALTHY_MEMBER_STATES = frozenset({"PRIMARY", "SECONDARY", "ARBITER"})


def patch_rank(role: str) -> int:
    """Hidden members first (no clients read them), then secondaries, arbiters, config servers."""
    return {"hidden": 0, "secondary": 1, "arbiter": 2, "config": 3, "mongos": 4}.get(role, 5)


def health_from_repl_status(
    status: dict[str, Any], limits: HealthLimits, names: dict[str, str] | None = None
) -> tuple[str | None, list[str]]:
    """(the primary's member name, problems) from a replSetGetStatus reply.

    Every member must be healthy and PRIMARY, SECONDARY or ARBITER; exactly one PRIMARY; each
    SECONDARY's last applied optime no more than limits.max_lag_seconds behind the primary's.
    `names` maps replica-set member names (host:port) to inventory names for the messages.
    """
    names = names or {}
    members = status.get("members", [])

    def label(member: dict[str, Any]) -> str:
        return names.get(member.get("name", ""), member.get("name", "?"))

    problems: list[str] = []
    for member in members:
        state = member.get("stateStr", "?")
        if member.get("health", 1) != 1:
            why = member.get("lastHeartbeatMessage") or state
            problems.append(f"{label(member)} is down ({why})")
        elif state not in _HEALTHY_MEMBER_STATES:
            problems.append(f"{label(member)} is {state}")
    primaries = [m for m in members if m.get("stateStr") == "PRIMARY" and m.get("health", 1) == 1]
    if len(primaries) != 1:
        problems.append(f"expected one primary, found {len(primaries)}")
        return None, problems
    primary = primaries[0]
    primary_optime = primary.get("optimeDate")
    for member in members:
        optime = member.get("optimeDate")
        if member.get("stateStr") != "SECONDARY" or member.get("health", 1) != 1:
            continue
        if isinstance(primary_optime, datetime) and isinstance(optime, datetime):
            lag = (primary_optime - optime).total_seconds()
            if lag > limits.max_lag_seconds:
                problems.append(
                    f"{label(member)} is {lag:.0f}s behind the primary (limit {limits.max_lag_seconds:.0f}s)"
                )
    return primary.get("name"), problems


def check_cluster_health(
    members: Sequence[tuple[str, ConnectionTarget]], limits: HealthLimits
) -> ClusterHealth:
    """Each member answers hello; the replica set's own view (replSetGetStatus) is healthy."""
    from pymongo.errors import OperationFailure, PyMongoError

    health = ClusterHealth()
    names: dict[str, str] = {}
    status: dict[str, Any] | None = None
    for name, target in members:
        names[f"{target.host}:{target.port}"] = name
        try:
            with client(target) as c:
                hello = c.admin.command("hello")
                build_info = c.admin.command("buildInfo")
                if status is None and hello.get("msg") != "isdbgrid":
                    status = c.admin.command("replSetGetStatus")
        except OperationFailure as exc:
            health.states[name] = ServerState(reachable=False, error=str(exc)[:300])
            health.problems.append(f"{name} is down ({health.states[name].error})")
            continue
        except PyMongoError as exc:
            health.states[name] = ServerState(reachable=False, error=f"unreachable: {type(exc).__name__}")
            health.problems.append(f"{name} is down (unreachable)")
            continue
        if hello.get("me"):
            names[hello["me"]] = name
        version, version_num = version_from_build_info(build_info)
        health.states[name] = ServerState(
            reachable=True, role=role_from_hello(hello), version=version, version_num=version_num
        )
    if status is None:
        if not health.problems:
            health.problems.append("no member answered replSetGetStatus")
        return health
    primary, problems = health_from_repl_status(status, limits, names)
    health.problems.extend(p for p in problems if p not in health.problems)
    health.primary = names.get(primary) if primary else None
    if primary and health.primary is None:
        health.problems.append(f"the primary {primary} is not a server of this cluster")
    return health


def step_down(target: ConnectionTarget, seconds: int = 60, catch_up_seconds: int = 10) -> None:
    """replSetStepDown on the primary: a caught-up secondary is elected in its place."""
    from pymongo.errors import AutoReconnect

    # Before 4.2 the primary closed every connection when stepping down: that is success.
    with client(target) as c, contextlib.suppress(AutoReconnect):
        c.admin.command("replSetStepDown", seconds, secondaryCatchUpPeriodSecs=catch_up_seconds)
