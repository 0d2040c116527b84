"""The cluster page's "Contacts" section: who to tell about the cluster's application."""

from rocketdbaas.contacts import services
from rocketdbaas.contacts.models import ApplicationContact, Contact
from rocketdbaas.core.panels import Panel


def cluster_panels(request, cluster) -> list[Panel]:
    if not services.can_view_application(request.user, cluster.application):
        return []
    links = (
        ApplicationContact.objects.filter(application_id=cluster.application_id)
        .filter(contact__in=Contact.objects.reachable())
        .select_related("contact")
        .order_by("contact__name", "id")
    )
    return [
        Panel(
            "Contacts",
            "contacts/cluster_panel.html",
            {"contact_links": list(links), "application": cluster.application},
            order=40,
        )
    ]
