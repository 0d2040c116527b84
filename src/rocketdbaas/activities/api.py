"""/api/{dbmsType}/activities: the append-only audit log, its corrections and downtime."""

from django.http import HttpRequest
from ninja import Query, Status

from rocketdbaas.accounts.roles import require_dba
from rocketdbaas.activities import services
from rocketdbaas.activities.schemas import (
    ActivityDetailOut,
    ActivityFilters,
    ActivityIn,
    ActivityOut,
    ActivityPage,
    CorrectionIn,
    DowntimeOut,
    MonthlyDowntime,
)
from rocketdbaas.core.schemas import PROBLEMS, ApiRouter
from rocketdbaas.dbms import resolve_dbms_type

router = ApiRouter()


def _new(item: ActivityIn) -> services.NewActivity:
    return services.NewActivity(
        type=item.type,
        cluster=item.cluster,
        server=item.server,
        occurred_at=item.occurred_at,
        planned=item.planned,
        ticket_url=item.ticket_url,
        summary=item.summary,
        details=item.details,
        corrects=item.corrects,
    )


@router.post(
    "/{dbms_type}/activities",
    response={201: ActivityOut | list[ActivityOut], **PROBLEMS},
    summary="Record one activity, or a list of them (all or nothing)",
)
def record_activities(request: HttpRequest, dbms_type: str, payload: ActivityIn | list[ActivityIn]):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    items = payload if isinstance(payload, list) else [payload]
    created = services.record_activities(
        dbms_type=kind,
        items=[_new(i) for i in items],
        user=request.user,
        prefix=(lambda i, name: f"{i}.{name}") if isinstance(payload, list) else (lambda i, name: name),
    )
    out = [ActivityOut.from_activity(a) for a in created]
    return Status(201, out if isinstance(payload, list) else out[0])


@router.get(
    "/{dbms_type}/activities",
    response={200: ActivityPage, **PROBLEMS},
    summary="List activities, newest first, each with its latest ticket",
)
def list_activities(request: HttpRequest, dbms_type: str, filters: Query[ActivityFilters]):
    kind = resolve_dbms_type(dbms_type)
    qs = services.filtered_activities(
        kind,
        request.user,
        cluster=filters.cluster,
        server=filters.server,
        types=filters.type,
        planned=filters.planned,
        since=filters.since,
        until=filters.until,
        has_ticket=filters.has_ticket,
        include_corrections=filters.include_corrections,
    )
    return filters.of(qs, ActivityOut.from_activity)


@router.get(
    "/{dbms_type}/activities/downtime",
    response={200: MonthlyDowntime, **PROBLEMS},
    summary="Downtime and availability per cluster for a UTC month (DESIGN §7)",
)
def downtime(request: HttpRequest, dbms_type: str, cluster: str | None = None, period: str | None = None):
    kind = resolve_dbms_type(dbms_type)
    start, end = services.month_bounds(period)
    cluster_ids = services.visible_cluster_ids(kind, request.user)
    if cluster:
        cluster_ids = cluster_ids.filter(pk=services.visible_cluster(kind, cluster, request.user).pk)
    results = services.downtime_for_clusters(kind, start, end, cluster_ids)
    return {
        "period": f"{start:%Y-%m}",
        "period_start": start,
        "period_end": end,
        "clusters": [DowntimeOut.from_result(r) for r in results],
    }


@router.get(
    "/{dbms_type}/activities/{activity_id}",
    response={200: ActivityDetailOut, **PROBLEMS},
    summary="One activity with its corrections",
)
def get_activity(request: HttpRequest, dbms_type: str, activity_id: int):
    activity = services.get_activity(resolve_dbms_type(dbms_type), activity_id, request.user)
    out = ActivityOut.from_activity(activity).model_dump()
    corrections = [ActivityOut.from_activity(c) for c in services.corrections_of(activity)]
    return ActivityDetailOut(**out, corrections=corrections)


@router.post(
    "/{dbms_type}/activities/{activity_id}/corrections",
    response={201: ActivityOut, **PROBLEMS},
    summary="Correct an activity (e.g. add its ticket link) by appending a correction",
)
def correct_activity(request: HttpRequest, dbms_type: str, activity_id: int, payload: CorrectionIn):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    correction = services.add_correction(
        dbms_type=kind,
        activity_id=activity_id,
        user=request.user,
        summary=payload.summary,
        ticket_url=payload.ticket_url,
        planned=payload.planned,
        details=payload.details,
    )
    return Status(201, ActivityOut.from_activity(correction))
