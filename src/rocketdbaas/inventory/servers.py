"""The one place other apps change inventory Server rows: what the servers themselves report.

Telemetry (collection and pushed samples) and patching (after a step) call these; nothing
outside inventory writes to Server directly.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from rocketdbaas.inventory.models import Server


@dataclass(frozen=True)
class Observed:
    """A server's DB version and role as the server reported them."""

    server: Server
    db_version: str
    role: str = ""


def record_observed_versions(observed: Iterable[Observed], batch_size: int = 500) -> int:
    """Show what servers really run. A pool server has no role to show, and a server that
    reported no role keeps the one it has. Only rows that change are written; returns how many."""
    now = timezone.now()
    changed = []
    for o in observed:
        server = o.server
        role = o.role if o.role and server.cluster_id else server.role
        if server.db_version != o.db_version or server.role != role:
            server.db_version, server.role, server.updated_at = o.db_version, role, now
            changed.append(server)
    Server.objects.bulk_update(changed, ["db_version", "role", "updated_at"], batch_size=batch_size)
    return len(changed)


def record_patched_facts(
    server_id: int, *, db_version: str = "", os_version: str = "", role: str = ""
) -> None:
    """After a patch step: the versions and role the live server reported (empty ones are unknown)."""
    fields = {
        name: value
        for name, value in (("db_version", db_version), ("os_version", os_version), ("role", role))
        if value
    }
    if fields:
        Server.objects.filter(pk=server_id).update(**fields, updated_at=timezone.now())
