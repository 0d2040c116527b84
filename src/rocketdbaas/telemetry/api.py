"""Telemetry API: on-demand collection, collection runs, the push API for sizes and versions,
size series per cluster, and the collector's credentials (write-only secrets)."""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Path, Query, Status

from rocketdbaas.accounts.roles import require_dba
from rocketdbaas.core.errors import Invalid
from rocketdbaas.core.pagination import Page
from rocketdbaas.core.schemas import PROBLEMS, ApiRouter
from rocketdbaas.dbms import resolve_dbms_type
from rocketdbaas.telemetry import services, tasks
from rocketdbaas.telemetry.models import CollectionResult, CollectionRun, DbCredential, RunTrigger
from rocketdbaas.telemetry.schemas import (
    TEXT_PATTERN,
    CollectIn,
    CollectionRunDetail,
    CollectionRunList,
    CollectionRunOut,
    CredentialIn,
    CredentialList,
    CredentialOut,
    CredentialPatch,
    Recorded,
    SizeSeries,
    SizesIn,
    VersionsIn,
)

router = ApiRouter()

RowId = Path(..., ge=1, le=2**63 - 1)


def run_out(run: CollectionRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "dbms_type": run.dbms_type or None,
        "cluster": run.cluster.name if run.cluster_id and run.cluster else None,
        "include_pool": run.include_pool,
        "servers_total": run.servers_total,
        "servers_ok": run.servers_ok,
        "servers_failed": run.servers_failed,
        "requested_by": run.requested_by.username if run.requested_by_id and run.requested_by else None,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def result_out(r: CollectionResult) -> dict[str, Any]:
    return {
        "server_name": r.server.name,
        "cluster": r.cluster.name if r.cluster_id and r.cluster else None,
        "outcome": r.outcome,
        "error": r.error,
        "role": r.role,
        "version": r.version,
        "database_count": r.database_count,
        "total_size_gigs": services.gigs(r.total_bytes),
        "details": r.details,
        "collected_at": r.collected_at,
        "duration_ms": r.duration_ms,
    }


def credential_out(c: DbCredential) -> dict[str, Any]:
    return {
        "id": c.pk,
        "dbms_type": c.dbms_type,
        "cluster": c.cluster.name if c.cluster_id and c.cluster else None,
        "username": c.username,
        "password_source": c.secret_source,
        "password_ref": c.secret_ref,
        "has_password": c.has_password,
        "updated_by": c.updated_by.username if c.updated_by_id and c.updated_by else None,
        "updated_at": c.updated_at,
    }


# ---------------------------------------------------------------- collection


@router.post(
    "/{dbms_type}/collect",
    response={202: CollectionRunOut, **PROBLEMS},
    summary="Collect sizes, databases, versions and roles now",
    description="Queues a collection run over the active servers of this dbmsType (or one cluster) "
    "and answers at once; follow it at `collectionRuns/{id}`.",
)
def collect(request: HttpRequest, dbms_type: str, payload: CollectIn | None = None):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    cluster_name = payload.cluster if payload else None
    cluster = services.find_cluster(dbms, cluster_name, field="cluster") if cluster_name else None
    with transaction.atomic():
        run = services.request_collection(
            trigger=RunTrigger.API,
            user=request.user,
            dbms_type=dbms,
            cluster=cluster,
            include_pool=bool(payload and payload.include_pool),
        )
        transaction.on_commit(lambda: tasks.run_collection.enqueue(run.pk))
    return Status(202, run_out(run))


@router.get(
    "/{dbms_type}/collectionRuns",
    response={200: CollectionRunList, **PROBLEMS},
    summary="Collection runs, newest first",
)
def list_runs(request: HttpRequest, dbms_type: str, page: Query[Page]):
    dbms = resolve_dbms_type(dbms_type)
    qs = services.runs_for(dbms).visible_to(request.user).select_related("cluster", "requested_by")
    return page.of(qs, run_out)


@router.get(
    "/{dbms_type}/collectionRuns/{run_id}",
    response={200: CollectionRunDetail, **PROBLEMS},
    summary="One collection run with each server's result",
)
def get_run(request: HttpRequest, dbms_type: str, run_id: int = RowId):
    dbms = resolve_dbms_type(dbms_type)
    run = services.get_run(dbms, run_id, request.user)
    results = (
        CollectionResult.objects.visible_to(request.user)
        .filter(run=run, server__dbms_type=dbms)
        .select_related("server", "cluster")
    )
    return {**run_out(run), "results": [result_out(r) for r in results.order_by("server__name")]}


# ---------------------------------------------------------------- push API


@router.post(
    "/{dbms_type}/sizes",
    response={201: Recorded, **PROBLEMS},
    summary="Push database size samples (all or nothing)",
    description="For fleets the collector cannot reach. Every sample names a known cluster of this "
    "dbmsType and one of its servers; one bad sample records nothing.",
)
def push_sizes(request: HttpRequest, dbms_type: str, payload: SizesIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    items = [
        services.PushedSize(s.cluster, s.server, s.database, s.size_gigs, s.sampled_at)
        for s in payload.samples
    ]
    return Status(201, {"recorded": services.record_pushed_sizes(dbms, items)})


@router.post(
    "/{dbms_type}/versions",
    response={201: Recorded, **PROBLEMS},
    summary="Push server versions and roles (all or nothing)",
    description="A report newer than anything known for its server also updates the inventory.",
)
def push_versions(request: HttpRequest, dbms_type: str, payload: VersionsIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    items = [
        services.PushedVersion(v.server, v.version, v.sampled_at, cluster=v.cluster, role=v.role)
        for v in payload.versions
    ]
    return Status(201, {"recorded": services.record_pushed_versions(dbms, items)})


# ---------------------------------------------------------------- series


def _aware(value: datetime | None, default: datetime, field: str) -> datetime:
    if value is None:
        return default
    if timezone.is_naive(value):
        raise Invalid(
            "Give timestamps with a timezone.", errors=[{"field": field, "message": "No timezone."}]
        )
    return value


@router.get(
    "/{dbms_type}/Cluster/{cluster_name}/sizes",
    response={200: SizeSeries, **PROBLEMS},
    summary="Each database's and the cluster's size over time",
    description="Downsampled per `bucket` (hour, day, week or month; UTC): a database's value is the "
    "largest size reported in the bucket, the cluster's the sum over its databases. "
    "Defaults: the last 30 days, by day.",
)
def size_series(
    request: HttpRequest,
    dbms_type: str,
    cluster_name: str = Path(..., pattern=TEXT_PATTERN),
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str = "day",
):
    dbms = resolve_dbms_type(dbms_type)
    cluster = services.find_cluster(dbms, cluster_name, user=request.user)
    end = _aware(until, timezone.now(), "until")
    try:
        start = _aware(since, end - timedelta(days=30), "since")
        return services.size_series(cluster, start, end, bucket)
    except OverflowError:
        raise Invalid(
            "since and until must be real dates.", errors=[{"field": "since", "message": "Out of range."}]
        ) from None


# ---------------------------------------------------------------- credentials


@router.get(
    "/{dbms_type}/credentials",
    response={200: CredentialList, **PROBLEMS},
    summary="The collector's credentials (passwords are never shown)",
)
def list_credentials(request: HttpRequest, dbms_type: str):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    creds = DbCredential.objects.filter(dbms_type=dbms).select_related("cluster", "updated_by")
    return {"count": len(creds), "items": [credential_out(c) for c in creds]}


@router.post(
    "/{dbms_type}/credentials",
    response={201: CredentialOut, **PROBLEMS},
    summary="Add the dbmsType's default credential, or a cluster's own",
)
def create_credential(request: HttpRequest, dbms_type: str, payload: CredentialIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    cluster = services.find_cluster(dbms, payload.cluster, field="cluster") if payload.cluster else None
    cred = services.create_credential(
        dbms,
        cluster,
        services.CredentialInput(
            username=payload.username,
            password=payload.password,
            password_env=payload.password_env,
            password_file=payload.password_file,
        ),
        user=request.user,
    )
    return Status(201, credential_out(cred))


@router.get(
    "/{dbms_type}/credentials/{credential_id}",
    response={200: CredentialOut, **PROBLEMS},
    summary="A credential",
)
def get_credential(request: HttpRequest, dbms_type: str, credential_id: int = RowId):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    return credential_out(services.get_credential(dbms, credential_id))


@router.patch(
    "/{dbms_type}/credentials/{credential_id}",
    response={200: CredentialOut, **PROBLEMS},
    summary="Change a credential's user or password source",
)
def update_credential(
    request: HttpRequest, dbms_type: str, payload: CredentialPatch, credential_id: int = RowId
):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    cred = services.update_credential(
        services.get_credential(dbms, credential_id),
        services.CredentialInput(
            username=payload.username,
            password=payload.password,
            password_env=payload.password_env,
            password_file=payload.password_file,
        ),
        user=request.user,
    )
    return credential_out(cred)


@router.delete(
    "/{dbms_type}/credentials/{credential_id}",
    response={204: None, **PROBLEMS},
    summary="Remove a credential",
)
def delete_credential(request: HttpRequest, dbms_type: str, credential_id: int = RowId):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    services.delete_credential(services.get_credential(dbms, credential_id), user=request.user)
    return HttpResponse(status=204)
