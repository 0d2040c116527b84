"""The intake's part of the home page: the open database requests the user may see."""

from rocketdbaas.intake.models import OPEN_STATUSES
from rocketdbaas.intake.services import may_submit, visible_requests

RECENT_REQUESTS = 8


def home_context(request) -> dict:
    open_requests = (
        visible_requests(request.user).filter(status__in=OPEN_STATUSES).order_by("needed_by", "pk")
    )
    return {
        "open_requests": open_requests[:RECENT_REQUESTS],
        "open_request_count": open_requests.count(),
        "may_submit": may_submit(request.user),
    }
