"""The cluster's "Contacts" section: who to tell about the cluster's application."""

from rocketdbaas.contacts.schemas import ContactsSection
from rocketdbaas.contacts.services import cluster_contacts
from rocketdbaas.core.sections import ClusterSection

section = ClusterSection(
    key="contacts",
    title="Contacts",
    provider=cluster_contacts,
    template="contacts/cluster_panel.html",
    schema=ContactsSection,
    order=44,
)
