import io

from rocketdbaas.intake.demo import load_demo
from rocketdbaas.intake.models import IntakeRequest, RequestStatus
from rocketdbaas.inventory.demo import load_fleet


def test_demo_requests_load_once(db):
    out = io.StringIO()
    load_fleet(out)
    load_demo(out)
    load_demo(out)
    requests = list(IntakeRequest.objects.order_by("reference"))
    assert [(r.application_name, r.status) for r in requests] == [
        ("loyalty", RequestStatus.SUBMITTED),
        ("orders", RequestStatus.SUBMITTED),
    ]
    assert requests[1].application is not None  # the demo fleet's existing application
    assert "left alone" in out.getvalue()
