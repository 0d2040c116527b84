"""The fleet's part of the home page: clusters and servers per DBMS type and status."""

from django.db.models import Count
from django.urls import NoReverseMatch, reverse

from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory.models import Cluster, ClusterStatus, PoolStatus, Server


def _url_or_none(name: str, **kwargs) -> str | None:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def home_context(request) -> dict:
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
    return {"fleets": fleets}
