from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from rocketdbaas.activities.downtime import DowntimeResult
from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.activities.services import ClusterActivities
from rocketdbaas.core.pagination import Page
from rocketdbaas.core.schemas import CamelSchema


class ActivityIn(CamelSchema):
    type: ActivityType | None = Field(
        None, description="Required, except for a correction (`corrects` set), whose type is Correction."
    )
    cluster: str | None = Field(None, max_length=100, description="Cluster name")
    server: str | None = Field(None, max_length=253, description="Server name (optional)")
    occurred_at: AwareDatetime | None = Field(None, description="When it happened; default now")
    planned: bool | None = None
    ticket_url: str | None = Field(None, max_length=500, description="http(s) link to the ticket")
    summary: str = Field(..., min_length=1, max_length=500)
    details: dict[str, Any] = Field(default_factory=dict)
    corrects: int | None = Field(None, description="Id of the activity this one corrects")


class ActivityFilters(Page):
    cluster: str | None = None
    server: str | None = None
    type: list[ActivityType] | None = Field(None, description="One or more types")
    planned: bool | None = Field(None, description="As last corrected")
    since: datetime | None = Field(None, description="Occurred at or after")
    until: datetime | None = Field(None, description="Occurred before")
    has_ticket: bool | None = Field(None, description="Has a ticket link (after corrections)")
    include_corrections: bool = Field(False, description="Also list the correction rows themselves")


class CorrectionIn(CamelSchema):
    summary: str = Field(..., min_length=1, max_length=500, description="What is being corrected, and why")
    ticket_url: str | None = Field(None, max_length=500)
    planned: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ActivityOut(CamelSchema):
    id: int
    dbms_type: str
    type: str
    cluster: str | None
    server: str | None
    occurred_at: datetime
    planned: bool | None = Field(description="As last corrected")
    ticket_url: str | None = Field(description="The latest ticket link (from the newest correction)")
    summary: str
    details: dict[str, Any]
    recorded_by: str | None
    request_id: str
    corrects: int | None
    correction_count: int
    created_at: datetime

    @classmethod
    def from_activity(cls, a: Activity) -> "ActivityOut":
        """From a row of activities.services.activity_queryset (with its computed fields)."""
        return cls(
            id=a.pk,
            dbms_type=a.dbms_type,
            type=a.type,
            cluster=a.cluster.name if a.cluster else None,
            server=a.server.name if a.server else None,
            occurred_at=a.occurred_at,
            planned=a.effective_planned,  # type: ignore[attr-defined]
            ticket_url=a.effective_ticket_url or None,  # type: ignore[attr-defined]
            summary=a.summary,
            details=a.details,
            recorded_by=a.recorded_by.username if a.recorded_by else None,
            request_id=a.request_id,
            corrects=a.corrects_id,
            correction_count=a.correction_count,  # type: ignore[attr-defined]
            created_at=a.created_at,
        )


class ActivitiesSection(CamelSchema):
    recent_activities: list[ActivityOut] = Field(description="The latest events, newest first")

    @staticmethod
    def resolve_recent_activities(data: ClusterActivities) -> list[ActivityOut]:
        return [ActivityOut.from_activity(a) for a in data.activities]


class ActivityDetailOut(ActivityOut):
    corrections: list[ActivityOut] = Field(default_factory=list, description="Oldest first")


class ActivityPage(CamelSchema):
    count: int
    items: list[ActivityOut]


class DowntimeIntervalOut(CamelSchema):
    start: datetime
    end: datetime
    planned: bool
    ongoing: bool


class DowntimeOut(CamelSchema):
    cluster: str
    period_minutes: float
    downtime_minutes: float
    unplanned_minutes: float
    planned_minutes: float
    unplanned_availability: float | None = Field(description="1 − U/(T − P); null when T = P")
    overall_availability: float = Field(description="1 − (U + P)/T")
    incidents: int = Field(description="Unplanned incidents overlapping the period")
    resolved_incidents: int = Field(description="Unplanned incidents resolved within the period")
    mttr_minutes: float | None
    ongoing: bool
    ongoing_since: datetime | None
    intervals: list[DowntimeIntervalOut]

    @classmethod
    def from_result(cls, r: DowntimeResult) -> "DowntimeOut":
        return cls(
            cluster=r.cluster_name,
            period_minutes=round(r.period_minutes, 3),
            downtime_minutes=round(r.downtime_minutes, 3),
            unplanned_minutes=round(r.unplanned_minutes, 3),
            planned_minutes=round(r.planned_minutes, 3),
            unplanned_availability=r.unplanned_availability,
            overall_availability=r.overall_availability,
            incidents=r.incidents,
            resolved_incidents=r.resolved_incidents,
            mttr_minutes=round(r.mttr_minutes, 3) if r.mttr_minutes is not None else None,
            ongoing=r.ongoing,
            ongoing_since=r.ongoing_since,
            intervals=[DowntimeIntervalOut(**vars(i)) for i in r.intervals],
        )


class MonthlyDowntime(CamelSchema):
    period: str
    period_start: datetime
    period_end: datetime
    clusters: list[DowntimeOut]
