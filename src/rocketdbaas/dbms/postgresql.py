"""PostgreSQL: roles are primary/replica, read from pg_is_in_recovery()."""

from collections.abc import Sequence

import psycopg

from rocketdbaas.dbms.base import ClusterHealth, ConnectionTarget, DatabaseSize, HealthLimits, ServerState
from rocketdbaas.dbms.versions import Version

DEFAULT_PORT = 5432
DEFAULT_USER = "postgres"
DEFAULT_DBNAME = "postgres"
ROLES = ("primary", "replica")
PRIMARY_ROLE = "primary"
# Present on every server; reports may leave it out of database counts.
SYSTEM_DATABASES = ("postgres",)


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
    if "failed to resolve host" in text or "could not translate host name" in text:
        return "unreachable: host name not found"
    if "No route to host" in text or "Network is unreachable" in text:
        return "unreachable: no route to host"
    if "Connection refused" in text or "could not connect" in text or "connection failed" in text:
        return "unreachable: connection refused"
    return text[:300]


def parse_version(text: str) -> int | None:
    """ "15.4" -> 150004, "16" -> 160000, "16.4 (Debian 16.4-1.pgdg120+1)" -> 160004; None if it
    is not a PostgreSQL 10+ version."""
    version = Version(text)
    if version.is_unknown or version.family or not 1 <= len(version.release) <= 2:
        return None
    major, minor = version.release[0], version.release[1] if len(version.release) == 2 else 0
    return major * 10000 + minor if major >= 10 and minor < 10000 else None


# Databases a login may not connect to still have a size, but pg_database_size() refuses
# them without CONNECT; they are reported with size None rather than failing the probe.
_DATABASE_SIZES = """
SELECT datname,
       CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) END
FROM pg_database WHERE NOT datistemplate ORDER BY datname
"""

# Without pg_monitor the rows are visible but the lag columns are NULL.
_REPLICAS = """
SELECT application_name, host(client_addr), state, sync_state,
       EXTRACT(epoch FROM replay_lag)::float8,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
FROM pg_stat_replication ORDER BY application_name, client_addr
"""

_UPSTREAM = """
SELECT (SELECT status FROM pg_stat_wal_receiver),
       (SELECT sender_host FROM pg_stat_wal_receiver),
       (SELECT sender_port FROM pg_stat_wal_receiver),
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint,
       EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
"""


def probe(target: ConnectionTarget, statement_timeout_ms: int = 10000) -> ServerState:
    """Everything the collector records: version, role, each database's size, replication."""
    try:
        with connect(target, options=f"-c statement_timeout={int(statement_timeout_ms)}") as conn:
            row = conn.execute(
                "SELECT current_setting('server_version_num')::int, pg_is_in_recovery()"
            ).fetchone()
            assert row is not None
            version_num, in_recovery = row
            databases = [
                DatabaseSize(name, size) for name, size in conn.execute(_DATABASE_SIZES) if size is not None
            ]
            details = _replication(conn, in_recovery)
    except psycopg.Error as exc:
        return ServerState(reachable=False, error=describe_error(exc))
    return ServerState(
        reachable=True,
        role="replica" if in_recovery else "primary",
        version=format_version(version_num),
        version_num=version_num,
        details=details,
        databases=databases,
    )


def _replication(conn: psycopg.Connection, in_recovery: bool) -> dict:
    if not in_recovery:
        return {
            "replicas": [
                {
                    "name": name,
                    "clientAddr": addr,
                    "state": state,
                    "syncState": sync_state,
                    "replayLagSeconds": lag_s,
                    "replayLagBytes": lag_b,
                }
                for name, addr, state, sync_state, lag_s, lag_b in conn.execute(_REPLICAS)
            ]
        }
    row = conn.execute(_UPSTREAM).fetchone()
    assert row is not None
    status, host, port, lag_bytes, replay_age = row
    return {
        "upstream": {"host": host, "port": port, "status": status} if status else None,
        "replayLagBytes": lag_bytes,
        # Time since the last replayed transaction: lag when the primary is busy, idle time when not.
        "lastReplayAgeSeconds": replay_age,
    }


# ---------------------------------------------------------------- rolling patching

REPLICA_ROLE = "replica"
# Without Patroni or a switchover command there is no safe way to move the primary role.
DEFAULT_PRIMARY_STRATEGY = "in_place"


def patch_rank(role: str) -> int:
    return {"replica": 0, "primary": 2}.get(role, 1)


_REPLICA_HEALTH = """
SELECT (SELECT status FROM pg_stat_wal_receiver),
       pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())::bigint
"""


def check_cluster_health(
    members: Sequence[tuple[str, ConnectionTarget]], limits: HealthLimits
) -> ClusterHealth:
    """Every member up, exactly one primary, and each replica streaming from it with its
    replay no further behind the primary's current WAL position than limits.max_lag_bytes."""
    health = ClusterHealth()
    for name, target in members:
        state = read_state(target)
        health.states[name] = state
        if not state.reachable:
            health.problems.append(f"{name} is down ({state.error})")
    primaries = [n for n, s in health.states.items() if s.reachable and s.role == "primary"]
    if len(primaries) != 1:
        health.problems.append(
            f"expected one primary, found {len(primaries)}"
            + (f": {', '.join(primaries)}" if primaries else "")
        )
        return health
    health.primary = primaries[0]
    targets = dict(members)
    try:
        with connect(targets[health.primary]) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
            assert row is not None
            primary_lsn = row[0]
    except psycopg.Error as exc:
        health.problems.append(f"{health.primary} is down ({describe_error(exc)})")
        return health
    for name, state in health.states.items():
        if not state.reachable or state.role != REPLICA_ROLE:
            continue
        try:
            with connect(targets[name]) as conn:
                row = conn.execute(_REPLICA_HEALTH, (primary_lsn,)).fetchone()
                assert row is not None
                receiver, lag = row
        except psycopg.Error as exc:
            health.problems.append(f"{name} is down ({describe_error(exc)})")
            continue
        state.details["replayLagBytes"] = lag
        if receiver != "streaming":
            health.problems.append(
                f"{name} is not streaming from the primary (WAL receiver: {receiver or 'none'})"
            )
        elif lag is not None and lag > limits.max_lag_bytes:
            health.problems.append(f"{name} is {lag} bytes behind the primary (limit {limits.max_lag_bytes})")
    return health


def patroni_switchover(base_url: str, leader: str, candidate: str | None, timeout: float = 30.0) -> str:
    """Ask Patroni's REST API to hand the leader role over; returns Patroni's answer.

    Patroni names members by their Patroni name, which RocketDBaaS takes to be the server name."""
    import json
    import urllib.error
    import urllib.request

    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"Patroni URL must be http(s): {base_url!r}")
    body: dict[str, str] = {"leader": leader}
    if candidate:
        body["candidate"] = candidate
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        base_url.rstrip("/") + "/switchover",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.read().decode(errors="replace")[:500]
    except urllib.error.HTTPError as exc:
        raise RuntimeError(
            f"Patroni refused the switchover ({exc.code}): {exc.read().decode(errors='replace')[:300]}"
        ) from exc
    except OSError as exc:
        raise RuntimeError(f"Patroni API unreachable: {exc}") from exc
