"""Collecting sizes, databases, versions and roles from the fleet, and reading them back.

- collect(): probes every server in scope in parallel (bounded pool, connect timeout; a bad
  server is recorded with its error and never stops the run), then records the results,
  the size samples, version changes, the inventory's current version/role, each cluster's
  databases, and an unplanned Failover activity for a promotion nothing explains.
- record_pushed_sizes() / record_pushed_versions(): the same facts from fleets the control
  plane cannot reach; all-or-nothing.
- size_series(): a cluster's and its databases' sizes over time, downsampled in SQL.
- apply_retention(): raw samples older than the raw window are folded into daily rollups.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from django.db import transaction
from django.db.models import Count, DateField, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from rocketdbaas.activities import failover
from rocketdbaas.activities.models import ActivityType
from rocketdbaas.activities.services import record_activity
from rocketdbaas.core.config import config
from rocketdbaas.core.errors import Conflict, Invalid, NotFound
from rocketdbaas.dbms import connection_target, get_module
from rocketdbaas.dbms.base import ServerState
from rocketdbaas.inventory.models import Cluster, PoolStatus, Server
from rocketdbaas.inventory.servers import Observed, record_observed_versions
from rocketdbaas.telemetry import credentials as credential_store
from rocketdbaas.telemetry.models import (
    CollectionResult,
    CollectionRun,
    CollectionRunQuerySet,
    DailySize,
    DatabaseInfo,
    DbCredential,
    Outcome,
    RunStatus,
    RunTrigger,
    SampleSource,
    SecretSource,
    SizeSample,
    VersionSample,
)

logger = logging.getLogger(__name__)

GIB = 1024**3
BUCKETS = ("hour", "day", "week", "month")
_BUCKET_LENGTH = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=28),
}
MAX_BUCKETS = 10_000
MAX_PUSH_ITEMS = 10_000
# A pushed sample may come from a machine whose clock is a little ahead, not from the future.
_CLOCK_SKEW = timedelta(minutes=5)


def collect_workers() -> int:
    return max(1, config.COLLECT_WORKERS)


def raw_retention_days() -> int:
    return max(1, config.TELEMETRY_RAW_RETENTION_DAYS)


def run_retention_days() -> int:
    return max(1, config.TELEMETRY_RUN_RETENTION_DAYS)


def gigs(size_bytes: int | None) -> float | None:
    return None if size_bytes is None else round(size_bytes / GIB, 6)


def is_system_database(dbms_type: str, name: str) -> bool:
    return name in get_module(dbms_type).SYSTEM_DATABASES


# --------------------------------------------------------------------------- lookups


def find_cluster(dbms_type: str, name: str, *, user=None, field: str | None = None) -> Cluster:
    """A cluster by name. Owners see only their applications' clusters. Named in a request body
    (`field`), an unknown one is a 422 on that field; in a URL, a 404."""
    cluster = (
        Cluster.objects.visible_to(user)
        .filter(dbms_type=dbms_type, name=name)
        .select_related("application")
        .first()
    )
    if cluster is None:
        detail = f"No {dbms_type} cluster named {name!r}."
        if field:
            raise Invalid(detail, errors=[{"field": field, "message": detail}])
        raise NotFound(detail)
    return cluster


def runs_for(dbms_type: str) -> CollectionRunQuerySet:
    """Runs that covered this dbmsType (its own, and the all-types scheduled ones)."""
    return CollectionRun.objects.filter(Q(dbms_type=dbms_type) | Q(dbms_type="")).order_by(
        "-created_at", "-id"
    )


def get_run(dbms_type: str, run_id: int, user=None) -> CollectionRun:
    run = (
        runs_for(dbms_type)
        .visible_to(user)
        .select_related("cluster", "requested_by")
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        raise NotFound(f"No {dbms_type} collection run {run_id}.")
    return run


# --------------------------------------------------------------------------- collection


def servers_in_scope(
    *, dbms_type: str = "", cluster: Cluster | None = None, include_pool: bool = False
) -> QuerySet[Server]:
    """The fleet's servers, plus Free/Locked pool servers if asked; or one cluster's servers."""
    if cluster is not None:
        qs = Server.objects.filter(status=PoolStatus.USED, cluster=cluster)
    else:
        qs = Server.objects.fleet()
        if include_pool:
            qs |= Server.objects.filter(status__in=[PoolStatus.FREE, PoolStatus.LOCKED])
    qs = qs.select_related("cluster").order_by("name")
    if dbms_type:
        qs = qs.filter(dbms_type=dbms_type)
    return qs


def request_collection(
    *,
    trigger: str,
    user=None,
    dbms_type: str = "",
    cluster: Cluster | None = None,
    include_pool: bool = False,
) -> CollectionRun:
    """A pending run; the caller runs it now (collect) or enqueues it (tasks.run_collection)."""
    if cluster is not None and not Cluster.objects.fleet().filter(pk=cluster.pk).exists():
        raise Conflict(f"Cluster {cluster.name} is {cluster.status}; only active clusters are collected.")
    return CollectionRun.objects.create(
        trigger=trigger,
        requested_by=user if user is not None and user.is_authenticated else None,
        dbms_type=dbms_type,
        cluster=cluster,
        include_pool=include_pool,
    )


@dataclass
class Probed:
    server: Server
    state: ServerState
    collected_at: datetime
    duration_ms: int


ProgressCallback = Callable[[int, int, Probed], None]


def collect(
    run: CollectionRun | None = None,
    *,
    trigger: str = RunTrigger.SCHEDULE,
    dbms_type: str = "",
    cluster: Cluster | None = None,
    include_pool: bool = False,
    user=None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> CollectionRun:
    """Probe every server in scope and record what they said. Returns the finished run.

    Given a pending run (from request_collection), its scope is used; a run another worker
    already took is returned untouched, so a re-delivered task never collects twice.
    """
    if run is None:
        run = request_collection(
            trigger=trigger, user=user, dbms_type=dbms_type, cluster=cluster, include_pool=include_pool
        )
    claimed = CollectionRun.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING, started_at=timezone.now()
    )
    run.refresh_from_db()
    if not claimed:
        return run
    try:
        servers = list(
            servers_in_scope(dbms_type=run.dbms_type, cluster=run.cluster, include_pool=run.include_pool)
        )
        CollectionRun.objects.filter(pk=run.pk).update(servers_total=len(servers))
        probed = probe_servers(servers, workers=workers, progress=progress)
        record_results(run, probed)
    except Exception as exc:
        logger.exception("Collection run %s failed", run.pk)
        CollectionRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    run.refresh_from_db()
    return run


def probe_servers(
    servers: list[Server], *, workers: int | None = None, progress: ProgressCallback | None = None
) -> list[Probed]:
    """Ask each server about itself, `workers` at a time. Threads never touch the database."""
    store = credential_store.CredentialStore(sorted({s.dbms_type for s in servers}))
    jobs: list[tuple[Server, Any]] = []
    for server in servers:
        try:
            jobs.append((server, connection_target(server, store.credentials_for(server))))
        except credential_store.SecretUnavailable as exc:
            jobs.append((server, f"authentication failed: {exc}"))
    results: list[Probed] = []
    if not jobs:
        return results
    with ThreadPoolExecutor(max_workers=min(workers or collect_workers(), len(jobs))) as pool:
        futures = [pool.submit(_probe_one, server, target) for server, target in jobs]
        for done, future in enumerate(as_completed(futures), start=1):
            probed = future.result()
            results.append(probed)
            if progress is not None:
                progress(done, len(jobs), probed)
    return sorted(results, key=lambda p: p.server.name)


def _probe_one(server: Server, target) -> Probed:
    started = time.monotonic()
    if isinstance(target, str):
        state = ServerState(reachable=False, error=target)
    else:
        try:
            state = get_module(server.dbms_type).probe(target)
        except Exception as exc:
            # A driver bug or an odd reply from one server must not end the run for the others.
            logger.warning("Probing %s failed unexpectedly: %s", server.name, type(exc).__name__)
            state = ServerState(reachable=False, error=f"error: {type(exc).__name__}")
    return Probed(server, state, timezone.now(), int((time.monotonic() - started) * 1000))


def record_results(run: CollectionRun, probed: list[Probed]) -> None:
    """Write everything one run learned, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        previous = _previous_ok_results([p.server.pk for p in probed if p.state.reachable], run)
        CollectionResult.objects.bulk_create(
            [
                CollectionResult(
                    run=run,
                    server=p.server,
                    cluster=p.server.cluster,
                    outcome=Outcome.OK if p.state.reachable else p.state.failure,
                    error=p.state.error[:500],
                    role=p.state.role,
                    version=p.state.version,
                    version_num=p.state.version_num,
                    database_count=len(p.state.databases) if p.state.reachable else None,
                    total_bytes=sum(d.size_bytes for d in p.state.databases) if p.state.reachable else None,
                    details=p.state.details,
                    collected_at=p.collected_at,
                    duration_ms=p.duration_ms,
                )
                for p in probed
            ],
            batch_size=500,
        )
        ok = [p for p in probed if p.state.reachable]
        SizeSample.objects.bulk_create(
            [
                SizeSample(
                    dbms_type=p.server.dbms_type,
                    cluster_id=p.server.cluster_id,
                    server=p.server,
                    database=db.name,
                    size_bytes=db.size_bytes,
                    sampled_at=p.collected_at,
                    source=SampleSource.COLLECTED,
                )
                for p in ok
                if p.server.cluster_id is not None
                for db in p.state.databases
            ],
            batch_size=1000,
        )
        _record_version_changes(ok, previous)
        _update_inventory(ok)
        _sync_databases(ok)
        _detect_failovers(run, ok, previous, now)
        CollectionRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FINISHED,
            finished_at=timezone.now(),
            servers_total=len(probed),
            servers_ok=len(ok),
            servers_failed=len(probed) - len(ok),
        )


@dataclass(frozen=True)
class PreviousResult:
    role: str
    version: str
    collected_at: datetime


def _previous_ok_results(server_ids: list[int], run: CollectionRun) -> dict[int, PreviousResult]:
    """Each server's last successful result before this run, in one query."""
    if not server_ids:
        return {}
    latest = (
        CollectionResult.objects.filter(server=OuterRef("pk"), outcome=Outcome.OK)
        .exclude(run=run)
        .order_by("-collected_at", "-id")
    )
    rows = (
        Server.objects.filter(pk__in=server_ids)
        .annotate(
            prev_role=Subquery(latest.values("role")[:1]),
            prev_version=Subquery(latest.values("version")[:1]),
            prev_at=Subquery(latest.values("collected_at")[:1]),
        )
        .filter(prev_at__isnull=False)
        .values_list("pk", "prev_role", "prev_version", "prev_at")
    )
    return {pk: PreviousResult(role or "", version or "", at) for pk, role, version, at in rows}


def _record_version_changes(ok: list[Probed], previous: dict[int, PreviousResult]) -> None:
    changed = []
    for p in ok:
        prev = previous.get(p.server.pk)
        if prev is None or prev.version != p.state.version or prev.role != p.state.role:
            changed.append(
                VersionSample(
                    dbms_type=p.server.dbms_type,
                    server=p.server,
                    cluster_id=p.server.cluster_id,
                    version=p.state.version,
                    version_num=p.state.version_num,
                    role=p.state.role,
                    sampled_at=p.collected_at,
                    source=SampleSource.COLLECTED,
                )
            )
    VersionSample.objects.bulk_create(changed, batch_size=1000)


def _update_inventory(ok: list[Probed]) -> None:
    record_observed_versions(Observed(p.server, p.state.version, p.state.role) for p in ok)


def _reporting_server(members: list[Probed]) -> Probed:
    """Whose database list speaks for the cluster: a mongos sees every shard, then the primary."""
    primary_role = get_module(members[0].server.dbms_type).PRIMARY_ROLE
    for wanted in ("mongos", primary_role):
        for p in members:
            if p.state.role == wanted:
                return p
    return members[0]


def _sync_databases(ok: list[Probed]) -> None:
    by_cluster: dict[int, list[Probed]] = defaultdict(list)
    for p in ok:
        if p.server.cluster_id is not None:
            by_cluster[p.server.cluster_id].append(p)
    if not by_cluster:
        return
    existing = {
        (d.cluster_id, d.name): d for d in DatabaseInfo.objects.filter(cluster_id__in=list(by_cluster))
    }
    to_create: list[DatabaseInfo] = []
    to_update: list[DatabaseInfo] = []
    seen: set[tuple[int, str]] = set()
    for cluster_id, members in by_cluster.items():
        reporter = _reporting_server(members)
        for db in reporter.state.databases:
            key = (cluster_id, db.name)
            seen.add(key)
            row = existing.get(key)
            if row is None:
                to_create.append(
                    DatabaseInfo(
                        cluster_id=cluster_id,
                        name=db.name,
                        size_bytes=db.size_bytes,
                        reported_by=reporter.server,
                        source=SampleSource.COLLECTED,
                        first_seen_at=reporter.collected_at,
                        last_seen_at=reporter.collected_at,
                    )
                )
            else:
                row.size_bytes, row.reported_by, row.source = (
                    db.size_bytes,
                    reporter.server,
                    SampleSource.COLLECTED,
                )
                row.last_seen_at = reporter.collected_at
                to_update.append(row)
    DatabaseInfo.objects.bulk_create(to_create, batch_size=1000)
    DatabaseInfo.objects.bulk_update(
        to_update, ["size_bytes", "reported_by", "source", "last_seen_at"], batch_size=1000
    )
    gone = [row.pk for key, row in existing.items() if key not in seen]
    DatabaseInfo.objects.filter(pk__in=gone).delete()


def _detect_failovers(
    run: CollectionRun, ok: list[Probed], previous: dict[int, PreviousResult], now: datetime
) -> None:
    """A server that was not primary at its last collection and is now: unplanned unless explained."""
    promoted: dict[int, list[tuple[Probed, PreviousResult]]] = defaultdict(list)
    for p in ok:
        prev = previous.get(p.server.pk)
        if p.server.cluster_id is None or prev is None:
            continue
        primary_role = get_module(p.server.dbms_type).PRIMARY_ROLE
        if p.state.role == primary_role and prev.role != primary_role:
            promoted[p.server.cluster_id].append((p, prev))
    if not promoted:
        return
    unexplained = failover.unexplained_promotions(
        {
            cluster_id: (min(prev.collected_at for _, prev in members), now)
            for cluster_id, members in promoted.items()
        }
    )
    for cluster_id, members in promoted.items():
        if cluster_id not in unexplained:
            continue
        for p, prev in members:
            cluster = p.server.cluster
            assert cluster is not None
            record_activity(
                dbms_type=p.server.dbms_type,
                type=ActivityType.FAILOVER,
                summary=f"Unplanned failover on {cluster.name}: {p.server.name} became {p.state.role} "
                f"(was {prev.role or 'unknown'}); seen by the collector",
                cluster=cluster,
                server=p.server,
                planned=False,
                occurred_at=p.collected_at,
                details={
                    "detectedBy": "collector",
                    "collectionRunId": run.pk,
                    "newPrimary": p.server.name,
                    "previousRole": prev.role,
                    "previousCollectionAt": prev.collected_at.isoformat(),
                },
            )


# --------------------------------------------------------------------------- push API


@dataclass(frozen=True)
class PushedSize:
    cluster: str
    server: str
    database: str
    size_gigs: float
    sampled_at: datetime


@dataclass(frozen=True)
class PushedVersion:
    server: str
    version: str
    sampled_at: datetime
    cluster: str | None = None
    role: str | None = None


def _resolve_push_targets(
    dbms_type: str, prefix: str, items: list[Any]
) -> tuple[dict[str, Cluster], dict[str, Server], list[dict[str, Any]]]:
    """Load every named cluster and server in two queries and check each item against them."""
    if len(items) > MAX_PUSH_ITEMS:
        raise Invalid(f"At most {MAX_PUSH_ITEMS} items per request.")
    cluster_names = {i.cluster for i in items if i.cluster}
    server_names = {i.server for i in items}
    clusters = {c.name: c for c in Cluster.objects.filter(name__in=cluster_names)}
    servers = {s.name: s for s in Server.objects.filter(name__in=server_names)}
    latest_allowed = timezone.now() + _CLOCK_SKEW
    errors: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        where = f"{prefix}[{n}]"
        cluster = clusters.get(item.cluster) if item.cluster else None
        server = servers.get(item.server)
        if item.cluster and cluster is None:
            errors.append({"field": f"{where}.cluster", "message": f"Unknown cluster {item.cluster!r}."})
        elif cluster is not None and cluster.dbms_type != dbms_type:
            errors.append(
                {"field": f"{where}.cluster", "message": f"{item.cluster} is not a {dbms_type} cluster."}
            )
        if server is None:
            errors.append({"field": f"{where}.server", "message": f"Unknown server {item.server!r}."})
        elif server.dbms_type != dbms_type:
            errors.append(
                {"field": f"{where}.server", "message": f"{item.server} is not a {dbms_type} server."}
            )
        elif cluster is not None and server.cluster_id != cluster.pk:
            errors.append(
                {"field": f"{where}.server", "message": f"{item.server} is not a member of {item.cluster}."}
            )
        if item.sampled_at > latest_allowed:
            errors.append({"field": f"{where}.sampledAt", "message": "The sample is in the future."})
    return clusters, servers, errors


def record_pushed_sizes(dbms_type: str, items: list[PushedSize]) -> int:
    """Store pushed size samples, all or nothing; the newest per database updates the cluster's list."""
    clusters, servers, errors = _resolve_push_targets(dbms_type, "samples", items)
    for n, item in enumerate(items):
        if item.size_gigs < 0:
            errors.append({"field": f"samples[{n}].sizeGigs", "message": "A size cannot be negative."})
        if not item.database or len(item.database) > 255:
            errors.append(
                {"field": f"samples[{n}].database", "message": "Give a database name (1-255 chars)."}
            )
    if errors:
        raise Invalid("Nothing was recorded: some samples are not valid.", errors=errors)
    rows = [
        SizeSample(
            dbms_type=dbms_type,
            cluster=clusters[item.cluster],
            server=servers[item.server],
            database=item.database,
            size_bytes=round(item.size_gigs * GIB),
            sampled_at=item.sampled_at,
            source=SampleSource.PUSHED,
        )
        for item in items
    ]
    with transaction.atomic():
        SizeSample.objects.bulk_create(rows, batch_size=1000)
        _upsert_pushed_databases(rows)
    return len(rows)


def _upsert_pushed_databases(rows: list[SizeSample]) -> None:
    newest: dict[tuple[int, str], SizeSample] = {}
    oldest: dict[tuple[int, str], datetime] = {}
    for sample in rows:
        key = (sample.cluster_id, sample.database)
        if key not in newest or sample.sampled_at > newest[key].sampled_at:
            newest[key] = sample
        oldest[key] = min(oldest.get(key, sample.sampled_at), sample.sampled_at)
    existing = {
        (d.cluster_id, d.name): d
        for d in DatabaseInfo.objects.select_for_update().filter(
            cluster_id__in={cid for cid, _ in newest}, name__in={name for _, name in newest}
        )
    }
    to_create: list[DatabaseInfo] = []
    to_update: list[DatabaseInfo] = []
    for key, sample in newest.items():
        row = existing.get(key)
        if row is None:
            to_create.append(
                DatabaseInfo(
                    cluster_id=sample.cluster_id,
                    name=sample.database,
                    size_bytes=sample.size_bytes,
                    reported_by=sample.server,
                    source=SampleSource.PUSHED,
                    first_seen_at=oldest[key],
                    last_seen_at=sample.sampled_at,
                )
            )
            continue
        if sample.sampled_at >= row.last_seen_at:
            row.size_bytes, row.reported_by = sample.size_bytes, sample.server
            row.source, row.last_seen_at = SampleSource.PUSHED, sample.sampled_at
        row.first_seen_at = min(row.first_seen_at, oldest[key])
        to_update.append(row)
    DatabaseInfo.objects.bulk_create(to_create)
    DatabaseInfo.objects.bulk_update(
        to_update, ["size_bytes", "reported_by", "source", "first_seen_at", "last_seen_at"]
    )


def record_pushed_versions(dbms_type: str, items: list[PushedVersion]) -> int:
    """Store pushed versions (and roles), all or nothing; a report newer than anything known
    for its server also updates the inventory."""
    module = get_module(dbms_type)
    _, servers, errors = _resolve_push_targets(dbms_type, "versions", items)
    parsed: list[int | None] = []
    for n, item in enumerate(items):
        num = module.parse_version(item.version)
        parsed.append(num)
        if num is None:
            errors.append({"field": f"versions[{n}].version", "message": f"Not a {dbms_type} version."})
        if item.role and item.role not in (*module.ROLES, "unknown"):
            errors.append(
                {
                    "field": f"versions[{n}].role",
                    "message": f"Role must be one of: {', '.join(module.ROLES)}.",
                }
            )
    if errors:
        raise Invalid("Nothing was recorded: some versions are not valid.", errors=errors)
    rows = [
        VersionSample(
            dbms_type=dbms_type,
            server=servers[item.server],
            cluster=servers[item.server].cluster,
            version=item.version.strip(),
            version_num=num,
            role=item.role or "",
            sampled_at=item.sampled_at,
            source=SampleSource.PUSHED,
        )
        for item, num in zip(items, parsed, strict=True)
    ]
    with transaction.atomic():
        server_ids = sorted({row.server_id for row in rows})
        known = dict(
            Server.objects.select_for_update()
            .filter(pk__in=server_ids)
            .order_by("pk")
            .annotate(
                latest=Subquery(
                    VersionSample.objects.filter(server=OuterRef("pk"))
                    .order_by("-sampled_at")
                    .values("sampled_at")[:1]
                )
            )
            .values_list("pk", "latest")
        )
        VersionSample.objects.bulk_create(rows, batch_size=1000)
        newest: dict[int, VersionSample] = {}
        for row in rows:
            if row.server_id not in newest or row.sampled_at > newest[row.server_id].sampled_at:
                newest[row.server_id] = row
        record_observed_versions(
            Observed(row.server, row.version, row.role)
            for server_id, row in newest.items()
            if known.get(server_id) is None or known[server_id] <= row.sampled_at
        )
    return len(rows)


# --------------------------------------------------------------------------- reading


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _as_utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return _midnight(value)


def check_series_window(since: datetime, until: datetime, bucket: str) -> None:
    errors = []
    if bucket not in BUCKETS:
        errors.append({"field": "bucket", "message": f"bucket must be one of: {', '.join(BUCKETS)}."})
    elif (until - since) / _BUCKET_LENGTH[bucket] > MAX_BUCKETS:
        errors.append(
            {"field": "bucket", "message": f"That is more than {MAX_BUCKETS} buckets; use a coarser one."}
        )
    if since >= until:
        errors.append({"field": "since", "message": "since must be before until."})
    if errors:
        raise Invalid("The series window is not valid.", errors=errors)


def size_series(cluster: Cluster, since: datetime, until: datetime, bucket: str = "day") -> dict[str, Any]:
    """Each database's and the cluster's size per bucket in [since, until).

    Two grouped queries (raw samples and daily rollups), whatever the window. A database's
    value in a bucket is the largest size any server reported in it; the cluster's is the sum
    over its databases. Hour buckets older than the raw window show one point per day.
    """
    check_series_window(since, until, bucket)
    raw = (
        SizeSample.objects.filter(cluster=cluster, sampled_at__gte=since, sampled_at__lt=until)
        .annotate(bucket=Trunc("sampled_at", bucket, tzinfo=UTC))
        .values("database", "bucket")
        .annotate(size=Max("size_bytes"))
        .order_by("database", "bucket")
        .values_list("database", "bucket", "size")
    )
    day_bucket: Any = (
        F("day") if bucket in ("hour", "day") else Trunc("day", bucket, output_field=DateField())
    )
    daily = (
        DailySize.objects.filter(
            cluster=cluster,
            day__gte=since.astimezone(UTC).date(),
            day__lte=(until - timedelta.resolution).date(),
        )
        .annotate(bucket=day_bucket)
        .values("database", "bucket")
        .annotate(size=Max("max_bytes"))
        .order_by("database", "bucket")
        .values_list("database", "bucket", "size")
    )
    # Rollup days are older than raw ones, so each database's buckets arrive (almost) in
    # order and the per-database sorts below are linear; a year of 2,000 databases is ~700k rows.
    as_utc: dict[Any, datetime] = {}
    per_db: dict[str, dict[datetime, int]] = defaultdict(dict)
    for rows in (daily, raw):
        for database, at, size in rows:
            key = as_utc.get(at) or as_utc.setdefault(at, _as_utc(at))
            points = per_db[database]
            if size > points.get(key, -1):
                points[key] = size
    totals: dict[datetime, int] = defaultdict(int)
    databases = []
    for name in sorted(per_db):
        series = sorted(per_db[name].items())
        for at, size in series:
            totals[at] += size
        databases.append(
            {
                "name": name,
                "system": is_system_database(cluster.dbms_type, name),
                "points": [{"at": at, "sizeBytes": size, "sizeGigs": gigs(size)} for at, size in series],
            }
        )
    return {
        "cluster": cluster.name,
        "bucket": bucket,
        "since": since,
        "until": until,
        "databases": databases,
        "total": [
            {"at": at, "sizeBytes": size, "sizeGigs": gigs(size)} for at, size in sorted(totals.items())
        ],
    }


CHART_DAYS = 90
CHART_DATABASES = 8  # the biggest ones; more lines than that are unreadable


@dataclass
class ClusterDatabase:
    name: str
    size_gigs: float | None
    system: bool
    source: str
    source_label: str
    last_seen_at: datetime


@dataclass
class ClusterDatabases:
    """What a cluster holds now (databases by name) and when the collector last read it."""

    cluster: Cluster
    databases: list[ClusterDatabase]
    last_collected: datetime | None
    chart_days = CHART_DAYS

    @property
    def chart_id(self) -> str:
        return f"cluster-sizes-{self.cluster.pk}"

    @cached_property
    def chart(self) -> dict[str, Any]:
        """Chart.js line data over the last CHART_DAYS: the cluster total and the largest databases, in GiB."""
        now = timezone.now()
        series = size_series(self.cluster, now - timedelta(days=CHART_DAYS), now, "day")
        labels = sorted({p["at"] for p in series["total"]})
        biggest = sorted(series["databases"], key=lambda d: -max(p["sizeBytes"] for p in d["points"]))
        lines = [("Cluster total", {p["at"]: p["sizeGigs"] for p in series["total"]})]
        lines += [
            (d["name"], {p["at"]: p["sizeGigs"] for p in d["points"]}) for d in biggest[:CHART_DATABASES]
        ]
        return {
            "labels": [at.date().isoformat() for at in labels],
            "datasets": [
                {"label": name, "data": [points.get(at) for at in labels]} for name, points in lines
            ],
        }


def cluster_databases(cluster: Cluster) -> ClusterDatabases:
    """The databases of a cluster the caller may see and its last collection (two queries)."""
    rows = [
        ClusterDatabase(
            name=d.name,
            size_gigs=gigs(d.size_bytes),
            system=is_system_database(cluster.dbms_type, d.name),
            source=d.source,
            source_label=d.get_source_display(),
            last_seen_at=d.last_seen_at,
        )
        for d in DatabaseInfo.objects.filter(cluster=cluster).order_by("name")
    ]
    return ClusterDatabases(cluster, rows, last_collected(cluster))


def last_collected(cluster: Cluster) -> datetime | None:
    """When the collector last read one of the cluster's servers successfully."""
    return CollectionResult.objects.filter(cluster=cluster, outcome=Outcome.OK).aggregate(
        at=Max("collected_at")
    )["at"]


# --------------------------------------------------------------------------- retention


def apply_retention(now: datetime | None = None) -> dict[str, int]:
    """Fold raw samples of whole UTC days older than the raw window into DailySize, then drop
    them; drop collection runs (and their results) older than the run window.

    One transaction per day, so a long backlog neither holds locks for long nor loses work.
    """
    now = now or timezone.now()
    cutoff = _midnight((now - timedelta(days=raw_retention_days())).date())
    folded = 0
    while True:
        first = (
            SizeSample.objects.filter(sampled_at__lt=cutoff)
            .order_by("sampled_at")
            .values_list("sampled_at", flat=True)
            .first()
        )
        if first is None:
            break
        day = first.astimezone(UTC).date()
        folded += _fold_day(day)
    _, deleted = CollectionRun.objects.filter(
        created_at__lt=now - timedelta(days=run_retention_days())
    ).delete()
    return {"samplesFolded": folded, "runsDeleted": deleted.get(CollectionRun._meta.label, 0)}


def _fold_day(day: date) -> int:
    start, end = _midnight(day), _midnight(day + timedelta(days=1))
    with transaction.atomic():
        raw = SizeSample.objects.filter(sampled_at__gte=start, sampled_at__lt=end)
        groups = list(
            raw.values("dbms_type", "cluster_id", "server_id", "database")
            .annotate(mx=Max("size_bytes"), total=Sum("size_bytes"), n=Count("id"))
            .order_by()
        )
        existing = {
            (d.cluster_id, d.server_id, d.database): d
            for d in DailySize.objects.select_for_update().filter(day=day)
        }
        to_create: list[DailySize] = []
        to_update: list[DailySize] = []
        for g in groups:
            row = existing.get((g["cluster_id"], g["server_id"], g["database"]))
            if row is None:
                to_create.append(
                    DailySize(
                        dbms_type=g["dbms_type"],
                        cluster_id=g["cluster_id"],
                        server_id=g["server_id"],
                        database=g["database"],
                        day=day,
                        max_bytes=g["mx"],
                        avg_bytes=round(g["total"] / g["n"]),
                        samples=g["n"],
                    )
                )
            else:
                # Samples pushed late for a day already folded: merge, weighting the averages.
                n = row.samples + g["n"]
                row.avg_bytes = round((row.avg_bytes * row.samples + g["total"]) / n)
                row.max_bytes, row.samples = max(row.max_bytes, g["mx"]), n
                to_update.append(row)
        DailySize.objects.bulk_create(to_create, batch_size=1000)
        DailySize.objects.bulk_update(to_update, ["max_bytes", "avg_bytes", "samples"], batch_size=1000)
        deleted, _ = raw.delete()
    return deleted


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class CredentialInput:
    username: str | None = None
    password: str | None = None  # set (stored encrypted); "" clears it
    password_env: str | None = None
    password_file: str | None = None


def _apply_credential_input(cred: DbCredential, data: CredentialInput) -> None:
    given = [
        name
        for name, value in (
            ("password", data.password),
            ("passwordEnv", data.password_env),
            ("passwordFile", data.password_file),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise Invalid(
            "Give at most one of password, passwordEnv and passwordFile.",
            errors=[{"field": f, "message": "Only one password source at a time."} for f in given],
        )
    if data.username is not None:
        cred.username = data.username
    if data.password is not None:
        cred.secret_ref = ""
        cred.encrypted_password = credential_store.encrypt(data.password) if data.password else ""
        cred.secret_source = SecretSource.STORED if data.password else SecretSource.NONE
    elif data.password_env is not None:
        problem = credential_store.check_env_ref(data.password_env)
        if problem:
            raise Invalid(problem, errors=[{"field": "passwordEnv", "message": problem}])
        cred.secret_source, cred.secret_ref, cred.encrypted_password = SecretSource.ENV, data.password_env, ""
    elif data.password_file is not None:
        problem = credential_store.check_file_ref(data.password_file)
        if problem:
            raise Invalid(problem, errors=[{"field": "passwordFile", "message": problem}])
        cred.secret_source, cred.secret_ref, cred.encrypted_password = (
            SecretSource.FILE,
            data.password_file,
            "",
        )


def _audit_credential(cred: DbCredential, verb: str, user) -> None:
    scope = (
        f"cluster {cred.cluster.name}"
        if cred.cluster_id and cred.cluster
        else f"all {cred.dbms_type} servers"
    )
    record_activity(
        dbms_type=cred.dbms_type,
        type=ActivityType.OTHER,
        summary=f"Collector credential for {scope} {verb}",
        cluster=cred.cluster,
        user=user,
        planned=True,
        # Where the password comes from, never the password.
        details={"credentialId": cred.pk, "username": cred.username, "passwordSource": cred.secret_source},
    )


def create_credential(
    dbms_type: str, cluster: Cluster | None, data: CredentialInput, user=None
) -> DbCredential:
    if cluster is not None and cluster.dbms_type != dbms_type:
        raise Invalid(
            f"{cluster.name} is not a {dbms_type} cluster.",
            errors=[{"field": "cluster", "message": "Wrong dbmsType."}],
        )
    with transaction.atomic():
        taken = DbCredential.objects.filter(dbms_type=dbms_type, cluster=cluster).exists()
        if taken:
            scope = f"cluster {cluster.name}" if cluster else f"dbmsType {dbms_type}"
            raise Conflict(f"A credential for {scope} already exists; change it instead.")
        cred = DbCredential(
            dbms_type=dbms_type, cluster=cluster, updated_by=user if user and user.is_authenticated else None
        )
        _apply_credential_input(cred, data)
        cred.save()
        _audit_credential(cred, "created", user)
    return cred


def update_credential(cred: DbCredential, data: CredentialInput, user=None) -> DbCredential:
    with transaction.atomic():
        cred = DbCredential.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=cred.pk)
        _apply_credential_input(cred, data)
        cred.updated_by = user if user and user.is_authenticated else None
        cred.save()
        _audit_credential(cred, "changed", user)
    return cred


def delete_credential(cred: DbCredential, user=None) -> None:
    with transaction.atomic():
        _audit_credential(cred, "removed", user)
        cred.delete()


def get_credential(dbms_type: str, credential_id: int) -> DbCredential:
    cred = (
        DbCredential.objects.select_related("cluster").filter(dbms_type=dbms_type, pk=credential_id).first()
    )
    if cred is None:
        raise NotFound(f"No {dbms_type} credential {credential_id}.")
    return cred
