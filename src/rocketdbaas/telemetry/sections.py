"""The cluster's "Databases" section: what the cluster holds now and how it grew."""

from rocketdbaas.core.sections import ClusterSection
from rocketdbaas.telemetry.schemas import DatabasesSection
from rocketdbaas.telemetry.services import cluster_databases

section = ClusterSection(
    key="databases",
    title="Databases",
    provider=cluster_databases,
    template="telemetry/cluster_panel.html",
    schema=DatabasesSection,
    order=30,
)
