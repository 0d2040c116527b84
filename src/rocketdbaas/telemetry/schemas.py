from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from rocketdbaas.core.schemas import CamelSchema
from rocketdbaas.telemetry.services import ClusterDatabases

# Names and versions are printable text: a NUL or control character is bad input, not a 500.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]


class CollectIn(CamelSchema):
    cluster: Text | None = Field(None, description="Collect only this cluster (default: every active one)")
    include_pool: bool = Field(False, description="Also read versions of Free and Locked pool servers")


class CollectionResultOut(CamelSchema):
    server_name: str
    cluster: str | None
    outcome: Literal["ok", "unreachable", "auth_failed", "timeout", "error"]
    error: str
    role: str
    version: str
    database_count: int | None
    total_size_gigs: float | None
    details: dict[str, Any]
    collected_at: datetime
    duration_ms: int


class CollectionRunOut(CamelSchema):
    id: int
    status: Literal["pending", "running", "finished", "failed"]
    trigger: str
    dbms_type: str | None
    cluster: str | None
    include_pool: bool
    servers_total: int
    servers_ok: int
    servers_failed: int
    requested_by: str | None
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CollectionRunDetail(CollectionRunOut):
    results: list[CollectionResultOut]


class CollectionRunList(CamelSchema):
    count: int
    items: list[CollectionRunOut]


class SizeSampleIn(CamelSchema):
    cluster: Text = Field(..., min_length=1, max_length=100)
    server: Text = Field(..., min_length=1, max_length=253)
    database: Text = Field(..., min_length=1, max_length=255)
    size_gigs: float = Field(..., ge=0, le=1e9, allow_inf_nan=False, description="GiB (1024³ bytes)")
    sampled_at: AwareDatetime


class SizesIn(CamelSchema):
    samples: list[SizeSampleIn] = Field(..., min_length=1, max_length=10_000)


class VersionSampleIn(CamelSchema):
    server: Text = Field(..., min_length=1, max_length=253)
    cluster: Text | None = Field(None, max_length=100)
    version: Text = Field(..., min_length=1, max_length=100, examples=["15.4", "7.0.12"])
    role: Text | None = Field(None, max_length=16)
    sampled_at: AwareDatetime


class VersionsIn(CamelSchema):
    versions: list[VersionSampleIn] = Field(..., min_length=1, max_length=10_000)


class Recorded(CamelSchema):
    recorded: int


class SizePoint(CamelSchema):
    at: datetime
    size_bytes: int
    size_gigs: float


class DatabaseSeries(CamelSchema):
    name: str
    system: bool
    points: list[SizePoint]


class SizeSeries(CamelSchema):
    cluster: str
    bucket: Literal["hour", "day", "week", "month"]
    since: datetime
    until: datetime
    databases: list[DatabaseSeries]
    total: list[SizePoint]


class CredentialIn(CamelSchema):
    cluster: Text | None = Field(
        None, description="A cluster's own credential; empty for the dbmsType's default"
    )
    username: Text = Field("", max_length=128)
    password: Text | None = Field(None, max_length=1024, description="Stored encrypted; never returned")
    password_env: Text | None = Field(None, max_length=200, description="Read from this environment variable")
    password_file: Text | None = Field(None, max_length=500, description="Read from this file")


class CredentialPatch(CamelSchema):
    username: Text | None = Field(None, max_length=128)
    password: Text | None = Field(None, max_length=1024, description='Stored encrypted; "" removes it')
    password_env: Text | None = Field(None, max_length=200)
    password_file: Text | None = Field(None, max_length=500)


class CredentialOut(CamelSchema):
    """Where the password comes from, never the password."""

    id: int
    dbms_type: str
    cluster: str | None
    username: str
    password_source: Literal["none", "stored", "env", "file"]
    password_ref: str = Field(description="The environment variable or file named, if any")
    has_password: bool
    updated_by: str | None
    updated_at: datetime


class CredentialList(CamelSchema):
    count: int
    items: list[CredentialOut]


class ClusterDatabaseOut(CamelSchema):
    name: str
    size_gigs: float | None
    system: bool = Field(description="postgres, or MongoDB's admin, config and local")
    source: str
    last_seen_at: datetime


class DatabasesSection(CamelSchema):
    databases: list[ClusterDatabaseOut] = Field(description="By name")
    last_collected: datetime | None = Field(description="When the collector last read the cluster")

    @staticmethod
    def resolve_databases(data: ClusterDatabases) -> list:
        return data.databases
