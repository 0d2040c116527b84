"""Bodies of /api/intake (camelCase JSON, snake_case Python)."""

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from rocketdbaas.core.schemas import CamelSchema
from rocketdbaas.dbms import DbmsType
from rocketdbaas.intake.models import MAX_SERVERS, BackupPolicy, IntakeRequest, RequestStatus
from rocketdbaas.intake.services import MAX_CONTACTS, MAX_CPU, MAX_GIGS
from rocketdbaas.inventory.models import Environment

Text = Annotated[str, StringConstraints(strip_whitespace=True)]


class RequestContactIn(CamelSchema):
    name: Text = Field("", max_length=200)
    email: Text = Field(max_length=254)


class IntakeRequestIn(CamelSchema):
    requester_name: Text = Field(
        "", max_length=150, description="Who asks for the database; the caller's name if empty"
    )
    requester_email: Text = Field("", max_length=254, description="The caller's e-mail if empty")
    application: Text = Field("", max_length=100, description="An existing application's name")
    new_application_name: Text = Field("", max_length=100, description="Or the name of a new application")
    contacts: list[RequestContactIn] = Field(default_factory=list, max_length=MAX_CONTACTS)
    dbms_type: DbmsType
    environment: Environment
    number_of_servers: int = Field(ge=1, le=MAX_SERVERS, description="Servers in the cluster (HA)")
    cpu: int = Field(ge=1, le=MAX_CPU, description="CPU cores per server")
    ram: int = Field(ge=1, le=MAX_GIGS, description="GB of RAM per server")
    db_gigs: int = Field(ge=1, le=MAX_GIGS, description="GB of database disk per server")
    expected_size_gigs: int = Field(ge=0, le=MAX_GIGS, description="Expected database size (GB)")
    growth_gigs_per_month: int = Field(0, ge=0, le=MAX_GIGS, description="Expected growth (GB per month)")
    backup_policy: BackupPolicy = BackupPolicy.STANDARD
    cost_centre: Text = Field(min_length=1, max_length=50)
    needed_by: date
    notes: str = Field("", max_length=10_000)


class CommentIn(CamelSchema):
    comment: str = Field("", max_length=10_000)


class FulfilIn(CamelSchema):
    cluster_name: Text = Field(
        "", max_length=100, description="Name of the new cluster; <application>-<environment>-<type> if empty"
    )
    comment: str = Field("", max_length=10_000)


class RequestContactOut(CamelSchema):
    name: str
    email: str


class EventOut(CamelSchema):
    from_status: RequestStatus | None
    to_status: RequestStatus | None
    comment: str
    user: str | None
    created_at: datetime


class IntakeRequestOut(CamelSchema):
    reference: str
    url: str
    status: RequestStatus
    submitted_by: str
    requester_name: str
    requester_email: str
    application: str
    new_application: bool
    contacts: list[RequestContactOut]
    dbms_type: DbmsType
    environment: Environment
    number_of_servers: int
    cpu: int
    ram: int
    db_gigs: int
    expected_size_gigs: int
    growth_gigs_per_month: int
    backup_policy: BackupPolicy
    cost_centre: str
    needed_by: date
    notes: str
    cluster: str | None
    created_at: datetime
    updated_at: datetime
    events: list[EventOut] | None = Field(None, description="The history; only on single-request answers")


class ClusterRequestOut(CamelSchema):
    reference: str
    status: RequestStatus
    requester_name: str
    created_at: datetime
    needed_by: date


class IntakeRequestsSection(CamelSchema):
    intake_requests: list[ClusterRequestOut] = Field(description="The requests the cluster was built for")

    @staticmethod
    def resolve_intake_requests(data: list[IntakeRequest]) -> list[IntakeRequest]:
        return data


class IntakeRequestList(CamelSchema):
    count: int
    items: list[IntakeRequestOut]
