"""The cluster page's "Requests" section: the intake requests this cluster was built for."""

from rocketdbaas.core.panels import Panel
from rocketdbaas.intake.models import IntakeRequest


def cluster_panels(request, cluster) -> list[Panel]:
    requests = list(IntakeRequest.objects.filter(cluster=cluster).order_by("created_at"))
    if not requests:
        return []
    return [Panel("Intake requests", "intake/cluster_panel.html", {"intake_requests": requests}, order=90)]
