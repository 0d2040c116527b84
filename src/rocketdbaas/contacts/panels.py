"""The cluster page's "Contacts" section: who to tell about the cluster's application."""

from rocketdbaas.contacts import services
from rocketdbaas.core.panels import Panel
from rocketdbaas.inventory.models import Application


def cluster_panels(request, cluster) -> list[Panel]:
    if not Application.objects.visible_to(request.user).filter(pk=cluster.application_id).exists():
        return []
    return [
        Panel(
            "Contacts",
            "contacts/cluster_panel.html",
            {
                "contact_links": list(services.reachable_links(cluster.application_id)),
                "application": cluster.application,
            },
            order=40,
        )
    ]
