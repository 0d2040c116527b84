"""PostgreSQL: roles are primary/replica, read from pg_is_in_recovery()."""

import psycopg

from rocketdbaas.dbms.base import ConnectionTarget, ServerState

DEFAULT_PORT = 5432
DEFAULT_USER = "postgres"
DEFAULT_DBNAME = "postgres"
ROLES = ("primary", "replica")
PRIMARY_ROLE = "primary"


def connect(target: ConnectionTarget, **kwargs) -> psycopg.Connection:
    return psycopg.connect(
        host=target.host,
        port=target.port,
        user=target.user or DEFAULT_USER,
        password=target.password or None,
        dbname=target.dbname or DEFAULT_DBNAME,
        connect_timeout=max(1, int(target.connect_timeout)),
        application_name="rocketdbaas",
        autocommit=True,
        **kwargs,
    )


def format_version(version_num: int) -> str:
    """150004 -> "15.4" (PostgreSQL 10+ numbering)."""
    return f"{version_num // 10000}.{version_num % 10000}"


def read_state(target: ConnectionTarget) -> ServerState:
    try:
        with connect(target) as conn:
            row = conn.execute(
                "SELECT current_setting('server_version_num')::int, pg_is_in_recovery()"
            ).fetchone()
            assert row is not None
            version_num, in_recovery = row
    except psycopg.Error as exc:
        return ServerState(reachable=False, error=describe_error(exc))
    return ServerState(
        reachable=True,
        role="replica" if in_recovery else "primary",
        version=format_version(version_num),
        version_num=version_num,
    )


def describe_error(exc: Exception) -> str:
    """A short reason without connection strings (they may carry passwords)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "password authentication failed" in text or "no pg_hba.conf entry" in text:
        return "authentication failed"
    if "timeout" in text.lower():
        return "timeout"
    if "Connection refused" in text or "could not connect" in text or "connection failed" in text:
        return "unreachable: connection refused"
    return text[:300]
