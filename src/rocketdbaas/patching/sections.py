"""The cluster's "Patching" section: each server's latest patches and the run in progress."""

from rocketdbaas.core.sections import ClusterSection
from rocketdbaas.patching.schemas import PatchingSection
from rocketdbaas.patching.services import cluster_patching

section = ClusterSection(
    key="patching",
    title="Patching",
    provider=cluster_patching,
    template="patching/cluster_panel.html",
    schema=PatchingSection,
    order=42,
)
