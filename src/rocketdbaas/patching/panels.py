"""The cluster page's "Patching" section: each server's latest patches and the run in progress."""

from rocketdbaas.core.panels import Panel
from rocketdbaas.inventory.models import PoolStatus
from rocketdbaas.patching import services
from rocketdbaas.patching.models import PatchRunCluster


def cluster_panels(request, cluster) -> list[Panel]:
    history = services.patch_history(cluster, limit_per_server=3)
    servers = list(cluster.servers.filter(status=PoolStatus.USED).order_by("name"))
    active = PatchRunCluster.objects.filter(cluster=cluster, active=True).select_related("run").first()
    rows = [{"server": s, "steps": history.get(s.pk, [])} for s in servers]
    return [Panel("Patching", "patching/cluster_panel.html", {"rows": rows, "active_run": active}, order=40)]
