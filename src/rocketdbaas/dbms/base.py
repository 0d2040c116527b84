"""The small interface every DBMS module implements, and how to reach a server."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConnectionTarget:
    """Where and as whom to connect. `password` is a secret: never log or return it."""

    host: str
    port: int
    user: str = ""
    password: str = field(default="", repr=False)
    dbname: str = ""
    connect_timeout: float = 5.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServerState:
    """What a live server says about itself."""

    reachable: bool
    role: str = ""  # an inventory.ServerRole value
    version: str = ""  # human-readable, e.g. "15.4" or "7.0.12"
    version_num: int | None = None  # comparable, e.g. 150004 or 70012
    error: str = ""  # why it was not reachable (no secrets)
    details: dict[str, Any] = field(default_factory=dict)


def connection_target(server) -> ConnectionTarget:
    """How to reach an inventory Server.

    Credentials (per dbmsType or per cluster, stored encrypted) are resolved by the
    telemetry app's credential store; without one, the type's default user is used.
    """
    from rocketdbaas.dbms import get_module

    module = get_module(server.dbms_type)
    return ConnectionTarget(
        host=server.address,
        port=server.port or module.DEFAULT_PORT,
        user=module.DEFAULT_USER,
        dbname=module.DEFAULT_DBNAME,
    )
