"""Inventory API: clustersServers, the spare pool, pull-and-lock, clusters and applications."""

import json
from typing import Annotated, Any, Literal, cast

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Status

from rocketdbaas.accounts.models import User
from rocketdbaas.accounts.roles import can_write, is_fleet_operator, is_owner, require_dba
from rocketdbaas.core.errors import Forbidden, Invalid
from rocketdbaas.core.pagination import LargePage
from rocketdbaas.core.schemas import PROBLEMS, ApiRouter, DbmsTypePath
from rocketdbaas.core.sections import section_fields
from rocketdbaas.dbms import resolve_dbms_type
from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import Application, Environment, PoolStatus, Server, ServerRole
from rocketdbaas.inventory.schemas import (
    ApplicationIn,
    ApplicationList,
    ApplicationOut,
    ApplicationPatch,
    ClusterCreateIn,
    ClusterDetail,
    ClusterOut,
    ClusterServerList,
    PoolServersIn,
    PoolStatusIn,
    RegisterIn,
    RegisterResult,
    Reservation,
    RetireIn,
    ServerList,
    ServerOut,
)

router = ApiRouter()


def server_out(s: Server) -> dict[str, Any]:
    return {
        "server_name": s.name,
        "dbms_type": s.dbms_type,
        "status": s.status,
        "cpu": s.cpu,
        "ram": s.ram,
        "db_gigs": s.db_gigs,
        "host": s.host,
        "address": s.address,
        "port": s.port,
        "datacenter": s.datacenter,
        "environment": s.environment,
        "os_version": s.os_version,
        "db_version": s.db_version,
        "cluster": s.cluster.name if s.cluster_id and s.cluster else None,
        "role": s.role,
        "reservation_id": s.reservation_id,
        "locked_by": s.locked_by.username if s.locked_by_id and s.locked_by else None,
        "lease_expires_at": s.lease_expires_at,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


def application_out(app: Application) -> dict[str, Any]:
    return {
        "name": app.name,
        "description": app.description,
        "cost_centre": app.cost_centre,
        "owners": sorted(u.username for u in app.owners.all()),
        "created_at": app.created_at,
        "updated_at": app.updated_at,
    }


def _json(data: Any, status: int = 200) -> HttpResponse:
    # For answers built to their schema already: large automation lists (per-item validation
    # would cost more than the query) and cluster detail (extra sections from other features).
    return HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder), status=status, content_type="application/json"
    )


# ---------------------------------------------------------------- clustersServers


@router.get(
    "/{dbms_type}/clustersServers",
    response={200: ClusterServerList | dict[str, Any], **PROBLEMS},
    summary="Active clusters' servers (JSON or Ansible inventory)",
    description=(
        "Every Used server of every active cluster of this dbmsType, in one response. "
        "`format=ansible` answers an Ansible dynamic inventory (`_meta.hostvars`, groups per "
        "dbmsType, `cluster_*`, `env_*`, `app_*`, `role_*`, plus `all` and `ungrouped`)."
    ),
)
def get_clusters_servers(
    request: HttpRequest,
    dbms_type: str,
    cluster: str | None = None,
    application: str | None = None,
    environment: Environment | None = None,
    role: ServerRole | None = None,
    output_format: Literal["json", "ansible"] = Query("json", alias="format"),
):
    dbms = resolve_dbms_type(dbms_type)
    rows = services.active_servers(
        dbms,
        cluster=cluster,
        application=application,
        environment=environment,
        role=role,
        user=request.user,
    )
    if output_format == "ansible":
        return _json(services.ansible_inventory(rows))
    return _json({"count": len(rows), "items": rows})


@router.post(
    "/{dbms_type}/clustersServers",
    response={200: RegisterResult, **PROBLEMS},
    summary="Register existing clusters and their servers (idempotent upsert)",
)
def post_clusters_servers(request: HttpRequest, dbms_type: str, payload: list[RegisterIn]):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    registrations = [
        services.ClusterRegistration(
            application=services.ApplicationSpec(**r.application.model_dump()),
            cluster=services.ClusterSpec(**r.cluster.model_dump()),
            servers=[services.ServerSpec(**s.model_dump()) for s in r.servers],
        )
        for r in payload
    ]
    return services.register_clusters_servers(dbms, registrations, user=request.user)


# ---------------------------------------------------------------- pool


@router.get("/{dbms_type}/poolServers", response={200: ServerList, **PROBLEMS}, summary="List the pool")
def list_pool_servers(
    request: HttpRequest,
    dbms_type: str,
    page: Query[LargePage],
    status: Annotated[
        PoolStatus | None, Query(description="Retired servers are listed only when asked for")
    ] = None,
    cpu: int | None = Query(None, ge=0, description="At least this many cores"),
    ram: int | None = Query(None, ge=0, description="At least this many GB of RAM"),
    db_gigs: int | None = Query(None, ge=0, alias="dbGigs", description="At least this many GB of disk"),
    datacenter: str | None = None,
    environment: Environment | None = None,
):
    dbms = resolve_dbms_type(dbms_type)
    qs = services.list_pool_servers(
        dbms,
        status=status,
        cpu=cpu,
        ram=ram,
        db_gigs=db_gigs,
        datacenter=datacenter,
        environment=environment,
        user=request.user,
    )
    return page.of(qs, server_out)


@router.post(
    "/{dbms_type}/poolServers",
    response={201: ServerList, **PROBLEMS},
    summary="Add one spare server or a list",
    description="Duplicate names are a 409 and nothing is added.",
)
def add_pool_servers(request: HttpRequest, dbms_type: str, payload: PoolServersIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    specs = [services.ServerSpec(**i.model_dump()) for i in payload.root]
    servers = services.add_pool_servers(dbms, specs, user=request.user)
    return Status(201, {"count": len(servers), "items": [server_out(s) for s in servers]})


@router.delete(
    "/{dbms_type}/poolServers",
    response={200: ServerList, **PROBLEMS},
    summary="Retire Free servers from the pool",
    description=(
        'Names in the body (`{"serverNames": [...]}`) or as `?serverName=` (repeatable). '
        "They become Retired, kept for history. Locked or Used servers are refused (409), all or nothing."
    ),
)
def retire_pool_servers(
    request: HttpRequest,
    dbms_type: str,
    payload: RetireIn | None = None,
    server_name: Annotated[list[str] | None, Query(alias="serverName")] = None,
):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    names = [*(server_name or []), *(payload.server_names if payload else [])]
    if not names:
        raise Invalid("Name the servers to remove, in the body or as ?serverName=.")
    servers = services.retire_pool_servers(dbms, names, user=request.user)
    return {"count": len(servers), "items": [server_out(s) for s in servers]}


@router.patch(
    "/{dbms_type}/poolServers/{server_name}",
    response={200: ServerOut, **PROBLEMS},
    summary="Mark a pool server Used (joining a cluster) or Free",
    description=(
        "Locked → Used (give `cluster` and optionally `role`), Locked → Free (release), "
        "Used → Free (decommissioned and wiped). Any other transition is a 409 naming the current state."
    ),
)
def patch_pool_server(request: HttpRequest, dbms_type: str, server_name: str, payload: PoolStatusIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    server = services.set_pool_status(
        dbms, server_name, payload.status, user=request.user, cluster_name=payload.cluster, role=payload.role
    )
    return server_out(server)


def _pull_and_lock(
    request: HttpRequest, dbms_type: str, number_of_servers: int, cpu: int, ram: int, db_gigs: int
):
    dbms = resolve_dbms_type(dbms_type)
    # GET changes state here, so the auth layer's "safe method" pass does not apply.
    if not can_write(request):
        raise Forbidden("This token or role is read-only.")
    if request.method == "GET" and getattr(request, "api_token", None) is None:
        raise Forbidden("Browsers must use POST for pull-and-lock (a GET carries no CSRF protection).")
    require_dba(request)
    result = services.pull_and_lock(
        dbms, number_of_servers, cpu=cpu, ram=ram, db_gigs=db_gigs, user=cast(User, request.user)
    )
    return {
        "reservation_id": result.reservation_id,
        "lease_expires_at": result.lease_expires_at,
        "locked_by": result.locked_by.username,
        "count": len(result.servers),
        "servers": [server_out(s) for s in result.servers],
    }


PULL_DESCRIPTION = (
    "Atomically locks `numberOfServers` Free servers with at least `cpu`, `ram` and `dbGigs` "
    "(best fit: the smallest that satisfy) for the caller, with a reservation id and a lease "
    "expiry. All or nothing: if not enough match, 409 with `matching` and nothing is locked. "
    "GET and POST do the same; prefer POST (caches and retries treat GET as safe)."
)


@router.post(
    "/{dbms_type}/poolServersPullAndLock/{number_of_servers}",
    response={200: Reservation, **PROBLEMS},
    summary="Pull and lock servers from the pool",
    description=PULL_DESCRIPTION,
)
def pull_and_lock_post(
    request: HttpRequest,
    dbms_type: str,
    number_of_servers: int = Path(..., ge=1, le=services.MAX_PULL),
    cpu: int = Query(..., ge=1),
    ram: int = Query(..., ge=1),
    db_gigs: int = Query(..., ge=1, alias="dbGigs"),
):
    return _pull_and_lock(request, dbms_type, number_of_servers, cpu, ram, db_gigs)


@router.get(
    "/{dbms_type}/poolServersPullAndLock/{number_of_servers}",
    response={200: Reservation, **PROBLEMS},
    summary="Pull and lock servers from the pool (GET form, for existing clients)",
    description=PULL_DESCRIPTION + " The GET form needs a bearer token with the write flag.",
)
def pull_and_lock_get(
    request: HttpRequest,
    dbms_type: str,
    number_of_servers: int = Path(..., ge=1, le=services.MAX_PULL),
    cpu: int = Query(..., ge=1),
    ram: int = Query(..., ge=1),
    db_gigs: int = Query(..., ge=1, alias="dbGigs"),
):
    return _pull_and_lock(request, dbms_type, number_of_servers, cpu, ram, db_gigs)


# ---------------------------------------------------------------- clusters


def cluster_detail(cluster) -> Any:
    # Each part is validated by its own schema (whose resolvers read the models); ClusterDetail
    # only declares the whole shape, so it is assembled, not validated a second time.
    return ClusterDetail.model_construct(
        **dict(ClusterOut.model_validate(cluster)), **section_fields(cluster)
    )


@router.post(
    "/{dbms_type}/Cluster",
    response={201: ClusterDetail, **PROBLEMS},
    summary="Create a cluster from Locked (or Free) servers",
    description=(
        "The application is created if new. Servers must be Locked by the caller (or Free); "
        "they become Used members with their roles. One transaction: any problem changes nothing."
    ),
)
def create_cluster(request: HttpRequest, dbms_type: DbmsTypePath, payload: ClusterCreateIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    cluster = services.create_cluster(
        dbms,
        application=services.ApplicationSpec(**payload.application.model_dump()),
        cluster=services.ClusterSpec(**payload.cluster.model_dump()),
        members=[services.Member(m.server_name, m.role) for m in payload.servers],
        user=request.user,
        reservation_id=payload.reservation_id,
    )
    return Status(201, cluster_detail(services.get_cluster(dbms, cluster.name)))


@router.get(
    "/{dbms_type}/Cluster/{cluster_name}",
    response={200: ClusterDetail, **PROBLEMS},
    summary="A cluster with its application, servers and every feature's section",
)
def get_cluster(request: HttpRequest, dbms_type: DbmsTypePath, cluster_name: str):
    dbms = resolve_dbms_type(dbms_type)
    return cluster_detail(services.get_cluster(dbms, cluster_name, user=request.user))


# ---------------------------------------------------------------- applications


@router.get("/applications", response={200: ApplicationList, **PROBLEMS}, summary="List applications")
def list_applications(request: HttpRequest, page: Query[LargePage]):
    return page.of(services.list_applications(request.user), application_out)


@router.post("/applications", response={201: ApplicationOut, **PROBLEMS}, summary="Create an application")
def create_application(request: HttpRequest, payload: ApplicationIn):
    require_dba(request)
    app = services.create_application(
        payload.name,
        description=payload.description,
        cost_centre=payload.cost_centre,
        owners=payload.owners,
        user=request.user,
    )
    return Status(201, application_out(app))


@router.get("/applications/{name}", response={200: ApplicationOut, **PROBLEMS}, summary="An application")
def get_application(request: HttpRequest, name: str):
    return application_out(services.get_application(name, request.user))


@router.patch(
    "/applications/{name}",
    response={200: ApplicationOut, **PROBLEMS},
    summary="Update an application",
    description="DBAs and admins change anything; an application's owners change its description and cost centre.",
)
def update_application(request: HttpRequest, name: str, payload: ApplicationPatch):
    changes = payload.model_dump(exclude_unset=True)
    if not is_fleet_operator(request.user):
        services.get_application(name, request.user)  # 404 for one the caller cannot see
        if not is_owner(request.user) or "owners" in changes:
            raise Forbidden("Only DBAs and admins change owners; owners change their own applications.")
    return application_out(services.update_application(name, changes, user=request.user))
