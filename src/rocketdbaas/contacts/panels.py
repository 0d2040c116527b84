"""The cluster page's "Contacts" section: who to tell about the cluster's application."""

from rocketdbaas.contacts import services
from rocketdbaas.core.panels import Panel


def cluster_panels(request, cluster) -> list[Panel]:
    if not services.can_view_application(request.user, cluster.application):
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
