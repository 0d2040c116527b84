from dataclasses import fields
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from rocketdbaas.backups.importers import ImportResult
from rocketdbaas.backups.models import Backup, BackupStatus, BackupType, RetentionPolicy
from rocketdbaas.backups.rolloff import RollOffItem, RollOffReport
from rocketdbaas.core.pagination import Page
from rocketdbaas.core.schemas import CamelSchema


class BackupIn(CamelSchema):
    cluster: str = Field(..., max_length=100)
    server: str | None = Field(None, max_length=253)
    label: str = Field(
        ..., min_length=1, max_length=200, description="The tool's own backup id; idempotency key"
    )
    repository: str = Field("default", min_length=1, max_length=200)
    tool: str = Field("", max_length=50)
    backup_type: BackupType
    status: BackupStatus = BackupStatus.RUNNING
    db_size_gigs: float | None = Field(None, allow_inf_nan=False)
    bkup_size_gigs: float | None = Field(None, allow_inf_nan=False)
    start: AwareDatetime
    stop: AwareDatetime | None = None
    depends_on: str | None = Field(None, max_length=200, description="Label of the parent (diff/incr)")
    details: dict[str, Any] = Field(default_factory=dict)


class BackupPatch(CamelSchema):
    status: BackupStatus | None = None
    stop: AwareDatetime | None = None
    db_size_gigs: float | None = Field(None, allow_inf_nan=False)
    bkup_size_gigs: float | None = Field(None, allow_inf_nan=False)
    details: dict[str, Any] | None = None


class BackupOut(CamelSchema):
    id: int
    dbms_type: str
    cluster: str
    server: str | None
    label: str
    repository: str
    tool: str
    backup_type: str
    status: str
    db_size_gigs: float | None
    bkup_size_gigs: float | None
    start: datetime
    stop: datetime | None
    depends_on: str | None
    depends_on_id: int | None
    pinned: bool
    expired: bool
    expired_at: datetime | None
    expire_reason: str
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_backup(cls, b: Backup) -> "BackupOut":
        return cls(
            id=b.pk,
            dbms_type=b.dbms_type,
            cluster=b.cluster.name,
            server=b.server.name if b.server else None,
            label=b.label,
            repository=b.repository,
            tool=b.tool,
            backup_type=b.backup_type,
            status=b.status,
            db_size_gigs=b.db_size_gigs,
            bkup_size_gigs=b.bkup_size_gigs,
            start=b.started_at,
            stop=b.stopped_at,
            depends_on=b.depends_on.label if b.depends_on else None,
            depends_on_id=b.depends_on_id,
            pinned=b.pinned,
            expired=b.expired_at is not None,
            expired_at=b.expired_at,
            expire_reason=b.expire_reason,
            details=b.details,
            created_at=b.created_at,
            updated_at=b.updated_at,
        )


class BackupsSection(CamelSchema):
    backups: list[BackupOut] = Field(description="The latest backups, newest first, expired ones marked")

    @staticmethod
    def resolve_backups(data: Any) -> list[BackupOut]:  # a services.ClusterBackups
        return [BackupOut.from_backup(b) for b in data.backups]


class BackupFilters(Page):
    cluster: str | None = None
    repository: str | None = None
    backup_type: list[BackupType] | None = None
    status: list[BackupStatus] | None = None
    expired: bool | None = Field(None, description="Default: all; false = the live catalogue")
    pinned: bool | None = None
    since: datetime | None = Field(None, description="Started at or after")
    until: datetime | None = Field(None, description="Started before")


class BackupPage(CamelSchema):
    count: int
    items: list[BackupOut]


class ImportIn(CamelSchema):
    cluster: str = Field(..., max_length=100)
    tool: Literal["pgbackrest", "pbm"]
    stanza: str | None = Field(None, description="pgBackRest stanza, when the output has several")
    data: Any = Field(..., description="The tool's JSON output, as printed")


class ImportOut(CamelSchema):
    cluster: str
    tool: str
    created: int
    updated: int
    unchanged: int
    backup_ids: list[int]

    @classmethod
    def from_result(cls, r: ImportResult) -> "ImportOut":
        return cls(**vars(r))


class PolicyIn(CamelSchema):
    cluster: str | None = Field(None, description="Empty: the default of the dbmsType")
    keep_fulls: int | None = Field(None, ge=1, le=10000)
    recovery_window_days: int | None = Field(None, ge=1, le=3650)
    min_fulls: int = Field(1, ge=1, le=10000)
    failed_keep_days: int = Field(30, ge=0, le=3650)


class PolicyOut(CamelSchema):
    cluster: str | None
    keep_fulls: int | None
    recovery_window_days: int | None
    min_fulls: int
    failed_keep_days: int
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def from_policy(cls, p: RetentionPolicy) -> "PolicyOut":
        return cls(
            cluster=p.cluster.name if p.cluster else None,
            keep_fulls=p.keep_fulls,
            recovery_window_days=p.recovery_window_days,
            min_fulls=p.min_fulls,
            failed_keep_days=p.failed_keep_days,
            updated_at=p.updated_at,
            updated_by=p.updated_by.username if p.updated_by else None,
        )


class PoliciesOut(CamelSchema):
    default: PolicyOut | None
    clusters: list[PolicyOut]


class RollOffIn(CamelSchema):
    dry_run: bool = Field(True, description="List what would expire and why, change nothing")
    cluster: str | None = None
    limit: int = Field(1000, ge=0, le=100000, description="How many items to return")


class RollOffItemOut(CamelSchema):
    backup_id: int
    cluster: str
    repository: str
    label: str
    backup_type: str
    status: str
    start: datetime
    bkup_size_gigs: float | None
    reason: str
    chain_root: str | None

    @classmethod
    def from_item(cls, i: RollOffItem) -> "RollOffItemOut":
        values = {f.name: getattr(i, f.name) for f in fields(i)}
        values["start"] = values.pop("started_at")
        return cls(**values)


class RollOffOut(CamelSchema):
    dry_run: bool
    now: datetime
    clusters_checked: int
    clusters_without_policy: list[str]
    count: int = Field(description="Backups expired (or that would be)")
    reclaimed_gigs: float
    items: list[RollOffItemOut]

    @classmethod
    def from_report(cls, r: RollOffReport, limit: int) -> "RollOffOut":
        return cls(
            dry_run=r.dry_run,
            now=r.now,
            clusters_checked=r.clusters_checked,
            clusters_without_policy=r.clusters_without_policy,
            count=r.expire_count,
            reclaimed_gigs=r.reclaimed_gigs,
            items=[RollOffItemOut.from_item(i) for i in r.items[:limit]],
        )
