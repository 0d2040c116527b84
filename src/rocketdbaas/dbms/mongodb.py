"""MongoDB: roles come from the `hello` command; versions from `buildInfo`.

The parsing functions take the server's documents as they are, so they can be tested on
recorded replies (no mongod can be installed on these machines)."""

from typing import Any

from rocketdbaas.dbms.base import ConnectionTarget, ServerState

DEFAULT_PORT = 27017
DEFAULT_USER = ""
DEFAULT_DBNAME = "admin"
ROLES = ("primary", "secondary", "arbiter", "hidden", "config", "mongos")
PRIMARY_ROLE = "primary"


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
