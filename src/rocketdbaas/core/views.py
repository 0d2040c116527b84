from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from rocketdbaas.accounts.roles import is_fleet_operator
from rocketdbaas.dbms import DbmsType
from rocketdbaas.intake.models import OPEN_STATUSES
from rocketdbaas.intake.services import may_submit, visible_requests
from rocketdbaas.inventory.models import Cluster, ClusterStatus, PoolStatus, Server

RECENT_REQUESTS = 8


def _url_or_none(name: str, **kwargs) -> str | None:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


@login_required
def home(request):
    """The fleet at a glance (clusters and servers per DBMS type) and the open database requests."""
    cluster_counts = {
        (row["dbms_type"], row["status"]): row["n"]
        for row in Cluster.objects.values("dbms_type", "status").annotate(n=Count("id")).order_by()
    }
    server_counts = {
        (row["dbms_type"], row["status"]): row["n"]
        for row in Server.objects.values("dbms_type", "status").annotate(n=Count("id")).order_by()
    }
    fleets = []
    for dbms_type in DbmsType:
        fleets.append(
            {
                "type": dbms_type,
                "clusters": {
                    s.value: cluster_counts.get((dbms_type.value, s.value), 0) for s in ClusterStatus
                },
                "servers": {s.value: server_counts.get((dbms_type.value, s.value), 0) for s in PoolStatus},
                "clusters_url": _url_or_none("inventory:cluster-list", dbms_type=dbms_type.value),
                "servers_url": _url_or_none("inventory:server-list", dbms_type=dbms_type.value),
                "pool_url": _url_or_none("inventory:pool", dbms_type=dbms_type.value),
            }
        )
    open_requests = (
        visible_requests(request.user).filter(status__in=OPEN_STATUSES).order_by("needed_by", "pk")
    )
    return render(
        request,
        "core/home.html",
        {
            "fleets": fleets,
            "open_requests": open_requests[:RECENT_REQUESTS],
            "open_request_count": open_requests.count(),
            "may_submit": may_submit(request.user),
            "is_operator": is_fleet_operator(request.user),
        },
    )


def healthz(request):
    """Liveness for load balancers: the app answers and its database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
