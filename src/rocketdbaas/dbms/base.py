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
    databases: list["DatabaseSize"] = field(default_factory=list)  # filled by probe(), not read_state()

    @property
    def failure(self) -> str:
        """ "" when reachable, else one of FAILURE_KINDS."""
        return "" if self.reachable else failure_kind(self.error)


@dataclass(frozen=True)
class DatabaseSize:
    name: str
    size_bytes: int


# Why a server could not be read, as the collector records it.
FAILURE_KINDS = ("unreachable", "auth_failed", "timeout", "error")


def failure_kind(error: str) -> str:
    """Classify a ServerState.error written by a DBMS module's describe_error."""
    text = error.lower()
    if text.startswith("authentication failed"):
        return "auth_failed"
    if text.startswith("timeout"):
        return "timeout"
    if text.startswith("unreachable"):
        return "unreachable"
    return "error"


# ---------------------------------------------------------------- rolling patching


@dataclass(frozen=True)
class HealthLimits:
    """How far behind a replica may be and still count as healthy (per cluster settings)."""

    max_lag_bytes: int = 16 * 1024 * 1024  # PostgreSQL: WAL not yet replayed
    max_lag_seconds: float = 30.0  # MongoDB: oplog behind the primary


@dataclass
class ClusterHealth:
    """The live cluster as the patcher sees it before and after touching a member.

    `states` maps each member's name to what it reported; `primary` is the member the
    cluster itself considers primary (None if there is not exactly one).
    """

    states: dict[str, ServerState] = field(default_factory=dict)
    primary: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def patch_order(module, roles: dict[str, str], primary: str | None) -> list[str]:
    """Members in the order they are patched: the module's rank for each live role
    (replicas/secondaries first), the primary always last, ties by name."""
    return sorted(roles, key=lambda name: (name == primary, module.patch_rank(roles[name]), name))
