"""Patching API schemas (camelCase JSON)."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from rocketdbaas.core.schemas import CamelSchema
from rocketdbaas.patching.models import ExecutorKind, PatchRunCluster, PatchStep, PatchType, PrimaryStrategy
from rocketdbaas.patching.services import ClusterPatching

BatchItem = int | str


class RecipeFields(CamelSchema):
    executor: ExecutorKind = ExecutorKind.SSH
    command: str = Field(min_length=1, max_length=20000)
    pre_command: str = Field("", max_length=20000)
    post_command: str = Field("", max_length=20000)
    version_command: str = Field("", max_length=20000)
    timeout_seconds: int = Field(3600, ge=1, le=86400)
    verify_timeout_seconds: int = Field(300, ge=1, le=7200)
    ssh_user: str = Field("", max_length=64)
    variables: dict[str, str | int | float | bool] = Field(default_factory=dict)
    description: str = ""
    active: bool = True


class RecipeIn(RecipeFields):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    patch_type: PatchType


class RecipePatch(CamelSchema):
    patch_type: PatchType | None = None
    executor: ExecutorKind | None = None
    command: str | None = Field(None, min_length=1, max_length=20000)
    pre_command: str | None = Field(None, max_length=20000)
    post_command: str | None = Field(None, max_length=20000)
    version_command: str | None = Field(None, max_length=20000)
    timeout_seconds: int | None = Field(None, ge=1, le=86400)
    verify_timeout_seconds: int | None = Field(None, ge=1, le=7200)
    ssh_user: str | None = Field(None, max_length=64)
    variables: dict[str, str | int | float | bool] | None = None
    description: str | None = None
    active: bool | None = None


class RecipeOut(RecipeFields):
    name: str
    dbms_type: str
    patch_type: str
    created_at: datetime
    updated_at: datetime


class RecipeList(CamelSchema):
    count: int
    items: list[RecipeOut]


class PatchSettingsIn(CamelSchema):
    primary_strategy: PrimaryStrategy | None = None
    switchover_command: str | None = Field(None, max_length=20000)
    patroni_url: str | None = Field(None, max_length=300)
    max_lag_bytes: int | None = Field(None, ge=0)
    max_lag_seconds: int | None = Field(None, ge=0)
    variables: dict[str, str | int | float | bool] | None = None
    server_variables: dict[str, dict[str, str | int | float | bool]] | None = None


class PatchSettingsOut(CamelSchema):
    cluster: str
    primary_strategy: str
    effective_primary_strategy: str
    switchover_command: str
    patroni_url: str
    max_lag_bytes: int
    max_lag_seconds: int
    variables: dict[str, Any]
    server_variables: dict[str, dict[str, Any]]


class TargetVersionIn(CamelSchema):
    version: str = Field(min_length=1, max_length=100)


class TargetVersionOut(CamelSchema):
    dbms_type: str
    patch_type: str
    version: str
    updated_by: str | None
    updated_at: datetime


class TargetVersionList(CamelSchema):
    count: int
    items: list[TargetVersionOut]


class SelectorIn(CamelSchema):
    environment: str | None = None
    application: str | None = None


def _canary_only() -> list[BatchItem]:
    return [1]


class PatchRunIn(CamelSchema):
    """Exactly one target: `cluster`, `clusters` or `selector` (every active cluster of the type,
    optionally only one environment and/or application)."""

    cluster: str | None = Field(None, min_length=1, max_length=100)
    clusters: list[str] | None = Field(None, max_length=1000)
    selector: SelectorIn | None = None
    patch_type: PatchType
    patch_version: str = Field(min_length=1, max_length=100)
    recipe: str = Field(min_length=1, max_length=100)
    batches: list[BatchItem] = Field(
        default_factory=_canary_only,
        max_length=20,
        description='Clusters per batch, counts or percentages: [1, "10%", "25%"] (the last repeats; '
        "the first is the canary)",
    )
    max_failures: int = Field(
        1, ge=1, le=100000, description="Stop starting servers once this many have failed"
    )
    dry_run: bool = False


class CheckOut(CamelSchema):
    check: str
    ok: bool
    detail: str = ""
    at: str | None = None


class StepOut(CamelSchema):
    id: int
    cluster: str
    server: str
    batch: int
    position: int
    status: str
    outcome: str
    reason: str
    exit_code: int | None
    version_before: str
    version_after: str
    role_before: str
    role_after: str
    checks: list[CheckOut]
    attempts: int
    owner: str
    heartbeat_at: datetime | None
    retry_of: int | None
    started_at: datetime | None
    finished_at: datetime | None
    output_url: str


class RunClusterOut(CamelSchema):
    cluster: str
    application: str
    batch: int
    position: int
    status: str
    reason: str
    started_at: datetime | None
    finished_at: datetime | None


class ProgressOut(CamelSchema):
    total: int
    done: int
    succeeded: int
    failed: int
    skipped: int
    cancelled: int
    in_flight: int
    percent: int


class PatchRunSummary(CamelSchema):
    id: int
    dbms_type: str
    patch_type: str
    patch_version: str
    recipe: str
    status: str
    dry_run: bool
    target: dict[str, Any]
    batches: list[BatchItem]
    max_failures: int
    reason: str
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    owner: str
    heartbeat_at: datetime | None
    attempts: int
    pause_requested: bool
    cancel_requested: bool
    progress: ProgressOut


class PatchRunOut(PatchRunSummary):
    clusters: list[RunClusterOut]
    steps: list[StepOut]


class PatchRunList(CamelSchema):
    count: int
    items: list[PatchRunSummary]


class StepOutputOut(CamelSchema):
    run_id: int
    step_id: int
    server: str
    status: str
    output: str
    truncated: bool


RunStatusFilter = Literal[
    "pending", "prechecking", "running", "paused", "interrupted", "succeeded", "failed", "cancelled"
]


class ActiveRunOut(CamelSchema):
    id: int
    status: str

    @staticmethod
    def resolve_id(active: PatchRunCluster) -> int:
        return active.run_id

    @staticmethod
    def resolve_status(active: PatchRunCluster) -> str:
        return active.run.status


class PatchHistoryOut(CamelSchema):
    server: str
    run_id: int
    patch_type: str
    patch_version: str
    outcome: str
    version_before: str
    version_after: str
    finished_at: datetime | None

    @staticmethod
    def resolve_server(step: PatchStep) -> str:
        return step.server.name

    @staticmethod
    def resolve_patch_type(step: PatchStep) -> str:
        return step.run.patch_type

    @staticmethod
    def resolve_patch_version(step: PatchStep) -> str:
        return step.run.patch_version

    @staticmethod
    def resolve_outcome(step: PatchStep) -> str:
        return step.outcome or step.status


class ClusterPatchingOut(CamelSchema):
    active_run: ActiveRunOut | None = Field(description="The run patching the cluster now")
    history: list[PatchHistoryOut] = Field(description="Each member's latest patches, members by name")


class PatchingSection(CamelSchema):
    patching: ClusterPatchingOut

    @staticmethod
    def resolve_patching(data: ClusterPatching) -> ClusterPatching:
        return data
