"""The cluster's "Intake requests" section: the requests this cluster was built for."""

from rocketdbaas.core.sections import ClusterSection
from rocketdbaas.intake.schemas import IntakeRequestsSection
from rocketdbaas.intake.services import cluster_requests

section = ClusterSection(
    key="intake-requests",
    title="Intake requests",
    provider=cluster_requests,
    template="intake/cluster_panel.html",
    schema=IntakeRequestsSection,
    order=90,
)
