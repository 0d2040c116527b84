"""MongoDB: roles come from the `hello` command; versions from `buildInfo`.

The parsing functions take the server's documents as they are, so they can be tested on
recorded replies (no mongod can be installed on these machines)."""

from datetime import datetime
from typing import Any

from rocketdbaas.dbms.base import ConnectionTarget, DatabaseSize, ServerState

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
    parts = build_info.get("versionArray") or version.split("-")[0].split(".")
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
    """ "7.0.12" -> 70012; None if it is not a MongoDB version."""
    parts = text.strip().split("-")[0].split(".")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    major, minor, patch = ([int(p) for p in parts] + [0])[:3]
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
