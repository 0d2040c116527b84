"""Fleet pages: clusters, servers and the spare pool of each DBMS type.

Views read with constant-count queries and change state only through inventory.services,
exactly as the API does.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    Count,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rocketdbaas.accounts.roles import is_fleet_operator
from rocketdbaas.core.errors import NotFound, ProblemError
from rocketdbaas.core.listing import sort_and_paginate
from rocketdbaas.core.sections import section_data
from rocketdbaas.dbms import DbmsType, resolve_dbms_type
from rocketdbaas.dbms.versions import Version, rank_expression, version_ranks
from rocketdbaas.inventory import services
from rocketdbaas.inventory.forms import (
    ClusterFilterForm,
    PoolFilterForm,
    PoolStatusForm,
    PullAndLockForm,
    ServerFilterForm,
)
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server, ServerRole

CLUSTER_SORTS = {
    "name": "name",
    "application": "application__name",
    "environment": "environment",
    "status": "status",
    "topology": "topology",
    "version": "version_rank",
    "servers": "server_count",
    "cpu": "total_cpu",
    "ram": "total_ram",
    "disk": "total_disk",
}
SERVER_SORTS = {
    "name": "name",
    "status": "status",
    "cluster": "cluster__name",
    "role": "role",
    "cpu": "cpu",
    "ram": "ram",
    "disk": "db_gigs",
    "datacenter": "datacenter",
    "environment": "environment",
    "os": "os_version_rank",
    "version": "db_version_rank",
}
POOL_SORTS = {**SERVER_SORTS, "size": ("cpu", "ram", "db_gigs"), "lease": "lease_expires_at"}

# Primary first, then the other members, as a DBA reads a cluster.
_ROLE_ORDER = Case(
    When(role=ServerRole.PRIMARY, then=Value(0)),
    When(role__in=[ServerRole.REPLICA, ServerRole.SECONDARY], then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def with_dbms_type(view):
    """Resolve the `dbms_type` URL part (any case); an unknown type is a 404 page.

    Names with a NUL character are 404 too: no name has one, and PostgreSQL refuses them in queries.
    """

    @wraps(view)
    def wrapper(request, dbms_type: str, *args, **kwargs):
        if any("\x00" in str(value) for value in kwargs.values()):
            raise Http404("No such name.")
        try:
            resolved = resolve_dbms_type(dbms_type)
        except NotFound as exc:
            raise Http404(exc.detail) from None
        return view(request, resolved, *args, **kwargs)

    return wrapper


def _with_version_ranks(qs: QuerySet[Server], dbms_type: DbmsType) -> QuerySet[Server]:
    """Servers with their DB and OS versions' ranks, so lists sort in version order (which SQL
    cannot compute: "15.10" is above "15.9"). The fleet has a handful of distinct versions."""
    pairs = (
        Server.objects.filter(dbms_type=dbms_type)
        .order_by()
        .values_list("db_version", "os_version")
        .distinct()
    )
    db_versions, os_versions = {db for db, _ in pairs}, {os for _, os in pairs}
    return qs.alias(
        db_version_rank=rank_expression("db_version", version_ranks(sorted(db_versions))),
        os_version_rank=rank_expression("os_version", version_ranks(sorted(os_versions))),
    )


@login_required
@with_dbms_type
def cluster_list(request, dbms_type: DbmsType):
    used = Q(servers__status=PoolStatus.USED)
    reported = used & ~Q(servers__db_version="")
    # Versions are ranked in Python (the one version order) and the database aggregates ranks.
    ranks = version_ranks(
        sorted(
            Server.objects.filter(dbms_type=dbms_type)
            .order_by()
            .values_list("db_version", flat=True)
            .union(
                Cluster.objects.filter(dbms_type=dbms_type).order_by().values_list("db_version", flat=True)
            )
        )
    )
    version_of_rank = {rank: text for text, rank in reversed(ranks.items())}
    qs = (
        Cluster.objects.visible_to(request.user)
        .filter(dbms_type=dbms_type)
        .select_related("application")
        .annotate(
            server_count=Count("servers", filter=used),
            total_cpu=Sum("servers__cpu", filter=used),
            total_ram=Sum("servers__ram", filter=used),
            total_disk=Sum("servers__db_gigs", filter=used),
            # Servers report their own versions; a spread means a patch run is under way or stalled.
            lowest_version_rank=Min(rank_expression("servers__db_version", ranks), filter=reported),
            highest_version_rank=Max(rank_expression("servers__db_version", ranks), filter=reported),
            # What the list shows: the highest version a server reports, else the cluster's own.
            version_rank=Coalesce("highest_version_rank", rank_expression("db_version", ranks), Value(-1)),
            primary_name=Subquery(
                Server.objects.filter(
                    cluster=OuterRef("pk"), status=PoolStatus.USED, role=ServerRole.PRIMARY
                ).values("name")[:1]
            ),
        )
    )
    filters = ClusterFilterForm(request.GET)
    application_field = filters.fields["application"]
    application_field.queryset = Application.objects.visible_to(request.user).order_by("name")  # type: ignore[attr-defined]
    if filters.is_valid():
        data = filters.cleaned_data
        if q := data["q"].strip():
            qs = qs.filter(
                Q(name__icontains=q) | Q(application__name__icontains=q) | Q(description__icontains=q)
            )
        if data["environment"]:
            qs = qs.filter(environment=data["environment"])
        if data["application"]:
            qs = qs.filter(application=data["application"])
        if data["status"]:
            qs = qs.filter(status=data["status"])
    page, sort = sort_and_paginate(request, qs, sorts=CLUSTER_SORTS, default="name")
    page.object_list = list(page.object_list)
    for cluster in page.object_list:
        cluster.lowest_version = version_of_rank.get(cluster.lowest_version_rank)
        cluster.highest_version = version_of_rank.get(cluster.highest_version_rank)
    return render(
        request,
        "inventory/cluster_list.html",
        {"dbms_type": dbms_type, "page_obj": page, "sort": sort, "filters": filters},
    )


@login_required
@with_dbms_type
def cluster_detail(request, dbms_type: DbmsType, name: str):
    try:
        cluster = services.get_cluster(dbms_type, name, user=request.user)
    except NotFound as exc:
        raise Http404(exc.detail) from None
    servers = list(
        cluster.servers.filter(status=PoolStatus.USED).order_by(_ROLE_ORDER, "name")  # type: ignore[misc]
    )
    return render(
        request,
        "inventory/cluster_detail.html",
        {
            "dbms_type": dbms_type,
            "cluster": cluster,
            "servers": servers,
            "db_versions": sorted({s.db_version for s in servers if s.db_version}, key=Version),
            "os_versions": sorted({s.os_version for s in servers if s.os_version}, key=Version),
            "totals": {
                "cpu": sum(s.cpu for s in servers),
                "ram": sum(s.ram for s in servers),
                "disk": sum(s.db_gigs for s in servers),
            },
            "sections": section_data(cluster),
        },
    )


@login_required
@with_dbms_type
def server_list(request, dbms_type: DbmsType):
    qs = Server.objects.visible_to(request.user).filter(dbms_type=dbms_type).select_related("cluster")
    filters = ServerFilterForm(request.GET)
    status = ""
    if filters.is_valid():
        data = filters.cleaned_data
        status = data["status"]
        if q := data["q"].strip():
            qs = qs.filter(Q(name__icontains=q) | Q(host__icontains=q) | Q(cluster__name__icontains=q))
        if data["environment"]:
            qs = qs.filter(Q(environment=data["environment"]) | Q(cluster__environment=data["environment"]))
        if data["role"]:
            qs = qs.filter(role=data["role"])
    qs = qs.filter(status=status) if status else qs.exclude(status=PoolStatus.RETIRED)
    qs = _with_version_ranks(qs, dbms_type)
    page, sort = sort_and_paginate(request, qs, sorts=SERVER_SORTS, default="name")
    return render(
        request,
        "inventory/server_list.html",
        {"dbms_type": dbms_type, "page_obj": page, "sort": sort, "filters": filters},
    )


def _pool_context(request, dbms_type: DbmsType) -> dict:
    filters = PoolFilterForm(request.GET)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    qs = services.list_pool_servers(dbms_type, status=status or None, user=request.user)
    if not status:
        qs = qs.filter(status__in=[PoolStatus.FREE, PoolStatus.LOCKED])
    qs = _with_version_ranks(qs, dbms_type)
    page, sort = sort_and_paginate(request, qs, sorts=POOL_SORTS, default="size")
    summary = {
        row["status"]: row
        for row in Server.objects.visible_to(request.user)
        .filter(dbms_type=dbms_type)
        .values("status")
        .annotate(n=Count("id"), cpu=Sum("cpu"), ram=Sum("ram"), disk=Sum("db_gigs"))
        .order_by()
    }
    operator = is_fleet_operator(request.user)
    return {
        "dbms_type": dbms_type,
        "page_obj": page,
        "sort": sort,
        "filters": filters,
        "summary": {s.value: summary.get(s.value, {"n": 0}) for s in PoolStatus},
        "may_act": operator,
        # Locked servers whose lock this user may release or turn into Used.
        "lock_actions": {s.pk for s in page if services.may_act_on_lock(s, request.user)},
        "pull_form": PullAndLockForm() if operator else None,
        "role_choices": PoolStatusForm(dbms_type=dbms_type).fields["role"].choices,  # type: ignore[attr-defined]
    }


@login_required
@with_dbms_type
def pool(request, dbms_type: DbmsType):
    return render(request, "inventory/pool.html", _pool_context(request, dbms_type))


def _require_operator(request) -> None:
    # The pages offer these actions only to dba/admin; a forged POST is refused the same way.
    if not is_fleet_operator(request.user):
        raise PermissionDenied("Pool actions need the dba or admin role.")


@login_required
@require_POST
@with_dbms_type
def pool_pull(request, dbms_type: DbmsType):
    _require_operator(request)
    form = PullAndLockForm(request.POST)
    status = 400
    if form.is_valid():
        d = form.cleaned_data
        try:
            result = services.pull_and_lock(
                dbms_type,
                d["number_of_servers"],
                cpu=d["cpu"],
                ram=d["ram"],
                db_gigs=d["db_gigs"],
                user=request.user,
            )
        except ProblemError as exc:
            messages.error(request, exc.detail)
            status = exc.status
        else:
            names = ", ".join(s.name for s in result.servers)
            messages.success(
                request,
                f"Locked {len(result.servers)} server(s) for you: {names}. Reservation {result.reservation_id}, "
                f"lease until {result.lease_expires_at:%Y-%m-%d %H:%M} UTC.",
            )
            return redirect(f"{reverse('inventory:pool', args=[dbms_type.value])}?status={PoolStatus.LOCKED}")
    context = _pool_context(request, dbms_type)
    context["pull_form"] = form
    return render(request, "inventory/pool.html", context, status=status)


@login_required
@require_POST
@with_dbms_type
def pool_set_status(request, dbms_type: DbmsType, name: str):
    _require_operator(request)
    form = PoolStatusForm(request.POST, dbms_type=dbms_type)
    back = request.POST.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("inventory:pool", args=[dbms_type.value])
    if not form.is_valid():
        messages.error(request, "; ".join(f"{f}: {' '.join(map(str, e))}" for f, e in form.errors.items()))
        return redirect(back)
    d = form.cleaned_data
    try:
        server = services.set_pool_status(
            dbms_type,
            name,
            d["status"],
            user=request.user,
            cluster_name=d["cluster"] or None,
            role=d["role"] or None,
        )
    except ProblemError as exc:
        field_errors = "; ".join(e["message"] for e in exc.errors or [])
        messages.error(request, f"{exc.detail} {field_errors}".strip())
    else:
        where = f" in cluster {server.cluster.name} as {server.role}" if server.cluster else ""
        messages.success(request, f"{server.name} is now {server.status}{where}.")
    return redirect(back)
