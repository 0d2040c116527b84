"""Request and response bodies of the inventory API (camelCase JSON, snake_case Python)."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, RootModel, StringConstraints, model_validator

from rocketdbaas.core.schemas import CamelSchema
from rocketdbaas.core.sections import with_sections
from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory.models import (
    APPLICATION_NAME_PATTERN,
    Cluster,
    ClusterStatus,
    Environment,
    PoolStatus,
    Server,
    ServerRole,
)

ServerName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
ClusterName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ApplicationName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=APPLICATION_NAME_PATTERN),
]
Port = Annotated[int, Field(ge=1, le=65535)]

# Large enough for a team's whole fleet in one call, small enough to bound one transaction.
MAX_BATCH = 10_000


class PoolServerIn(CamelSchema):
    server_name: ServerName
    cpu: int = Field(ge=1, le=4096)
    ram: int = Field(ge=1, le=1_000_000, description="GB")
    db_gigs: int = Field(ge=1, le=1_000_000_000, description="GB of database disk")
    host: str = Field("", max_length=253, description="Address to connect to; the name if blank")
    port: Port | None = None
    datacenter: str = Field("", max_length=50)
    environment: Environment | Literal[""] = ""
    os_version: str = Field("", max_length=100)
    db_version: str = Field("", max_length=100)


class PoolServersIn(RootModel[list[PoolServerIn]]):
    """One server object or a list of them."""

    root: list[PoolServerIn] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="before")
    @classmethod
    def one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        # Document what one_or_many accepts: an object, or a list of them.
        array = dict(handler(core_schema))
        array.pop("title", None)
        description = array.pop("description", None)
        return {"title": "PoolServersIn", "description": description, "anyOf": [array["items"], array]}


class ServerOut(CamelSchema):
    server_name: str
    dbms_type: str
    status: PoolStatus
    cpu: int
    ram: int
    db_gigs: int
    host: str
    address: str
    port: int | None
    datacenter: str
    environment: str
    os_version: str
    db_version: str
    cluster: str | None
    role: str
    reservation_id: UUID | None
    locked_by: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ServerList(CamelSchema):
    count: int
    items: list[ServerOut]


class RetireIn(CamelSchema):
    server_names: list[ServerName] = Field(min_length=1, max_length=MAX_BATCH)


class PoolStatusIn(CamelSchema):
    status: Literal[PoolStatus.USED, PoolStatus.FREE]
    cluster: ClusterName | None = Field(None, description="The cluster a server joins when it becomes Used")
    role: ServerRole | None = None


class Reservation(CamelSchema):
    reservation_id: UUID
    lease_expires_at: datetime
    locked_by: str
    count: int
    servers: list[ServerOut]


class ApplicationIn(CamelSchema):
    name: ApplicationName
    description: str = ""
    cost_centre: str = Field("", max_length=50)
    owners: list[str] = Field(default_factory=list, description="Usernames")


class ApplicationPatch(CamelSchema):
    description: str | None = None
    cost_centre: str | None = Field(None, max_length=50)
    owners: list[str] | None = Field(None, description="Usernames; replaces the list")


class ApplicationOut(CamelSchema):
    name: str
    description: str
    cost_centre: str
    owners: list[str]
    created_at: datetime
    updated_at: datetime


class ApplicationList(CamelSchema):
    count: int
    items: list[ApplicationOut]


class ApplicationRef(CamelSchema):
    """An application by name; created with these fields if it does not exist yet."""

    name: ApplicationName
    description: str = ""
    cost_centre: str = Field("", max_length=50)


class ClusterIn(CamelSchema):
    name: ClusterName
    environment: Environment = Environment.PROD
    topology: str = Field("", max_length=50)
    db_version: str = Field("", max_length=50)
    description: str = ""


class MemberIn(CamelSchema):
    server_name: ServerName
    role: ServerRole = ServerRole.UNKNOWN


class ClusterCreateIn(CamelSchema):
    application: ApplicationRef
    cluster: ClusterIn
    servers: list[MemberIn] = Field(min_length=1, max_length=1000)
    reservation_id: UUID | None = Field(
        None, description="If given, every Locked server must carry this reservation"
    )


class ClusterServerOut(CamelSchema):
    server_name: str
    role: str
    status: PoolStatus
    host: str
    address: str
    port: int | None
    cpu: int
    ram: int
    db_gigs: int
    datacenter: str
    os_version: str
    db_version: str

    @staticmethod
    def resolve_server_name(server: Server) -> str:
        return server.name


class ClusterApplicationOut(CamelSchema):
    name: str
    description: str
    cost_centre: str


class ClusterOut(CamelSchema):
    """A cluster with its application and its Used servers."""

    name: str
    dbms_type: DbmsType
    application: ClusterApplicationOut
    environment: str
    status: ClusterStatus
    topology: str
    db_version: str
    description: str
    created_at: datetime
    updated_at: datetime
    servers: list[ClusterServerOut]

    @staticmethod
    def resolve_servers(cluster: Cluster) -> list[Server]:
        return list(cluster.servers.filter(status=PoolStatus.USED).order_by("role", "name"))


# A cluster plus each section other features add to it (contacts, backups, activities, …).
ClusterDetail = with_sections(ClusterOut, "ClusterDetail")


class RegisterServerIn(CamelSchema):
    server_name: ServerName
    role: ServerRole = ServerRole.UNKNOWN
    cpu: int = Field(ge=1, le=4096)
    ram: int = Field(ge=1, le=1_000_000)
    db_gigs: int = Field(ge=1, le=1_000_000_000)
    host: str = Field("", max_length=253)
    port: Port | None = None
    datacenter: str = Field("", max_length=50)
    os_version: str = Field("", max_length=100)
    db_version: str = Field("", max_length=100)


class RegisterClusterIn(CamelSchema):
    name: ClusterName
    environment: Environment = Environment.PROD
    status: ClusterStatus = ClusterStatus.ACTIVE
    topology: str = Field("", max_length=50)
    db_version: str = Field("", max_length=50)
    description: str = ""


class RegisterIn(CamelSchema):
    application: ApplicationRef
    cluster: RegisterClusterIn
    servers: list[RegisterServerIn] = Field(default_factory=list, max_length=1000)


class RegisterResult(CamelSchema):
    clusters_created: int
    clusters_updated: int
    servers_created: int
    servers_updated: int
    unchanged: int


class ClusterServerRow(CamelSchema):
    """One Used server of an active cluster, as automation consumes it."""

    server_name: str
    dbms_type: str
    cluster: str
    application: str
    environment: str
    role: str
    host: str
    port: int | None
    datacenter: str
    cpu: int
    ram: int
    db_gigs: int
    os_version: str
    db_version: str
    cluster_db_version: str
    topology: str


class ClusterServerList(CamelSchema):
    count: int
    items: list[ClusterServerRow]
