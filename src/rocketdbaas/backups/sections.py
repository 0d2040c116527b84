"""The cluster's "Backups" section: retention, the newest full and the latest backups."""

from rocketdbaas.backups.schemas import BackupsSection
from rocketdbaas.backups.services import cluster_backups
from rocketdbaas.core.sections import ClusterSection

section = ClusterSection(
    key="backups",
    title="Backups",
    provider=cluster_backups,
    template="backups/cluster_panel.html",
    schema=BackupsSection,
    order=50,
)
