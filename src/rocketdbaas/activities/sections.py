"""The cluster's "Activities" section: this month's availability and the latest events."""

from rocketdbaas.activities.schemas import ActivitiesSection
from rocketdbaas.activities.services import cluster_activities
from rocketdbaas.core.sections import ClusterSection

section = ClusterSection(
    key="activities",
    title="Activities",
    provider=cluster_activities,
    template="activities/cluster_panel.html",
    schema=ActivitiesSection,
    order=40,
)
