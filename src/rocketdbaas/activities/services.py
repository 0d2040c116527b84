from django.utils import timezone

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.core.middleware import current_request_id


def record_activity(
    *,
    dbms_type: str,
    type: ActivityType,
    summary: str,
    cluster=None,
    server=None,
    user=None,
    planned: bool | None = True,
    details: dict | None = None,
    occurred_at=None,
    ticket_url: str = "",
) -> Activity:
    """Append one audit row; call it inside the transaction of the change it records."""
    return Activity.objects.create(
        dbms_type=dbms_type,
        type=type,
        summary=summary[:500],
        cluster=cluster,
        server=server,
        recorded_by=user if user is not None and user.is_authenticated else None,
        planned=planned,
        details=details or {},
        occurred_at=occurred_at or timezone.now(),
        ticket_url=ticket_url,
        request_id=current_request_id(),
    )
