"""/api/intake: file requests for new databases and take them through approval and fulfilment."""

from typing import Any

from django.urls import reverse
from ninja import Query, Status

from rocketdbaas.core.pagination import Page
from rocketdbaas.core.schemas import PROBLEMS, ApiRouter
from rocketdbaas.dbms import DbmsType, resolve_dbms_type
from rocketdbaas.intake import services
from rocketdbaas.intake.models import IntakeRequest, RequestStatus
from rocketdbaas.intake.schemas import (
    CommentIn,
    FulfilIn,
    IntakeRequestIn,
    IntakeRequestList,
    IntakeRequestOut,
)

router = ApiRouter()


class ListFilters(Page):
    status: RequestStatus | None = None
    dbms_type: str | None = None


def _out(request: IntakeRequest, *, with_events: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "reference": request.reference,
        "url": reverse("intake:detail", args=[request.reference]),
        "status": request.status,
        "submitted_by": request.submitted_by.username,
        "requester_name": request.requester_name,
        "requester_email": request.requester_email,
        "application": request.application_name,
        "new_application": request.is_new_application,
        "contacts": request.contacts,
        "dbms_type": request.dbms_type,
        "environment": request.environment,
        "number_of_servers": request.number_of_servers,
        "cpu": request.cpu,
        "ram": request.ram,
        "db_gigs": request.db_gigs,
        "expected_size_gigs": request.expected_size_gigs,
        "growth_gigs_per_month": request.growth_gigs_per_month,
        "backup_policy": request.backup_policy,
        "cost_centre": request.cost_centre,
        "needed_by": request.needed_by,
        "notes": request.notes,
        "cluster": request.cluster.name if request.cluster else None,
        "created_at": request.created_at,
        "updated_at": request.updated_at,
    }
    if with_events:
        data["events"] = [
            {
                "from_status": e.from_status or None,
                "to_status": e.to_status or None,
                "comment": e.comment,
                "user": e.user.username if e.user else None,
                "created_at": e.created_at,
            }
            for e in request.events.select_related("user")
        ]
    return data


@router.get("/intake", response={200: IntakeRequestList, **PROBLEMS}, summary="List requests")
def list_requests(request, filters: Query[ListFilters]):
    """Dba, admin and viewer see every request; an owner sees theirs and their applications'."""
    qs = services.visible_requests(request.user)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.dbms_type:
        qs = qs.filter(dbms_type=resolve_dbms_type(filters.dbms_type))
    return filters.of(qs, _out)


@router.post("/intake", response={201: IntakeRequestOut, **PROBLEMS}, summary="Submit a request")
def submit_request(request, payload: IntakeRequestIn):
    user = request.user
    spec = services.RequestSpec(
        requester_name=payload.requester_name or user.get_full_name() or user.username,
        requester_email=payload.requester_email or user.email,
        application=payload.application,
        new_application_name=payload.new_application_name,
        contacts=[services.ContactSpec(c.name, c.email) for c in payload.contacts],
        dbms_type=DbmsType(payload.dbms_type),
        environment=payload.environment,
        number_of_servers=payload.number_of_servers,
        cpu=payload.cpu,
        ram=payload.ram,
        db_gigs=payload.db_gigs,
        expected_size_gigs=payload.expected_size_gigs,
        growth_gigs_per_month=payload.growth_gigs_per_month,
        backup_policy=payload.backup_policy,
        cost_centre=payload.cost_centre,
        needed_by=payload.needed_by,
        notes=payload.notes,
    )
    created = services.submit_request(spec, user)
    return Status(201, _out(services.get_request(created.reference, user), with_events=True))


@router.get("/intake/{reference}", response={200: IntakeRequestOut, **PROBLEMS}, summary="Get a request")
def get_request(request, reference: str):
    return _out(services.get_request(reference, request.user), with_events=True)


@router.post("/intake/{reference}/approve", response={200: IntakeRequestOut, **PROBLEMS}, summary="Approve")
def approve_request(request, reference: str, payload: CommentIn):
    """Dba/admin: submitted → approved (fulfil later, when servers are ready)."""
    updated = services.approve_request(reference, user=request.user, comment=payload.comment)
    return _out(updated, with_events=True)


@router.post("/intake/{reference}/reject", response={200: IntakeRequestOut, **PROBLEMS}, summary="Reject")
def reject_request(request, reference: str, payload: CommentIn):
    """Dba/admin: submitted or approved → rejected; the comment (why) is required."""
    updated = services.reject_request(reference, user=request.user, comment=payload.comment)
    return _out(updated, with_events=True)


@router.post("/intake/{reference}/fulfil", response={200: IntakeRequestOut, **PROBLEMS}, summary="Fulfil")
def fulfil_request(request, reference: str, payload: FulfilIn):
    """Dba/admin: approve if needed, pull-and-lock servers from the pool and create the cluster,
    in one transaction. 409 if the pool cannot satisfy the request (nothing changes)."""
    updated = services.fulfil_request(
        reference, user=request.user, cluster_name=payload.cluster_name, comment=payload.comment
    )
    return _out(updated, with_events=True)


@router.post("/intake/{reference}/comments", response={201: IntakeRequestOut, **PROBLEMS}, summary="Comment")
def comment_request(request, reference: str, payload: CommentIn):
    """The requester or a dba/admin adds a comment to the request's history."""
    updated = services.add_comment(reference, user=request.user, comment=payload.comment)
    return Status(201, _out(updated, with_events=True))
