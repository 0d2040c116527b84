"""Patching API: recipes, cluster patch settings, target versions, and patch runs."""

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Status

from rocketdbaas.accounts.roles import require_dba
from rocketdbaas.core.pagination import LargePage, Page
from rocketdbaas.core.schemas import PROBLEMS, ApiRouter, partial_update
from rocketdbaas.dbms import get_module, resolve_dbms_type
from rocketdbaas.patching import services
from rocketdbaas.patching.models import (
    ClusterPatchSettings,
    PatchRecipe,
    PatchRun,
    PatchStep,
    PatchType,
    TargetVersion,
)
from rocketdbaas.patching.schemas import (
    PatchRunIn,
    PatchRunList,
    PatchRunOut,
    PatchSettingsIn,
    PatchSettingsOut,
    RecipeIn,
    RecipeList,
    RecipeOut,
    RecipePatch,
    RunStatusFilter,
    StepOutputOut,
    TargetVersionIn,
    TargetVersionList,
    TargetVersionOut,
)

router = ApiRouter()


# ---------------------------------------------------------------- output shapes


def recipe_out(r: PatchRecipe) -> dict[str, Any]:
    return {
        f: getattr(r, f)
        for f in ("name", "dbms_type", "patch_type", *services.RECIPE_FIELDS, "created_at", "updated_at")
    }


def settings_out(ps: ClusterPatchSettings) -> dict[str, Any]:
    return {
        "cluster": ps.cluster.name,
        "primary_strategy": ps.primary_strategy,
        "effective_primary_strategy": ps.primary_strategy
        or get_module(ps.cluster.dbms_type).DEFAULT_PRIMARY_STRATEGY,
        **{f: getattr(ps, f) for f in services.SETTINGS_FIELDS if f != "primary_strategy"},
    }


def target_out(t: TargetVersion) -> dict[str, Any]:
    return {
        "dbms_type": t.dbms_type,
        "patch_type": t.patch_type,
        "version": t.version,
        "updated_by": t.updated_by.username if t.updated_by else None,
        "updated_at": t.updated_at,
    }


def step_out(s: PatchStep, run: PatchRun) -> dict[str, Any]:
    return {
        "id": s.pk,
        "cluster": s.cluster.name,
        "server": s.server.name,
        "batch": s.batch,
        "position": s.position,
        "status": s.status,
        "outcome": s.outcome,
        "reason": s.reason,
        "exit_code": s.exit_code,
        "version_before": s.version_before,
        "version_after": s.version_after,
        "role_before": s.role_before,
        "role_after": s.role_after,
        "checks": s.checks,
        "attempts": s.attempts,
        "owner": s.owner,
        "heartbeat_at": s.heartbeat_at,
        "retry_of": s.retry_of_id,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "output_url": f"/api/{run.dbms_type}/patchRuns/{run.pk}/steps/{s.pk}/output",
    }


def run_summary(run: PatchRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "dbms_type": run.dbms_type,
        "patch_type": run.patch_type,
        "patch_version": run.patch_version,
        "recipe": run.recipe.name,
        "status": run.status,
        "dry_run": run.dry_run,
        "target": {} if getattr(run, "partial", False) else run.target,
        "batches": run.batches,
        "max_failures": run.max_failures,
        "reason": "" if getattr(run, "partial", False) else run.reason,
        "created_by": run.created_by.username if run.created_by else None,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "owner": run.owner,
        "heartbeat_at": run.heartbeat_at,
        "attempts": run.attempts,
        "pause_requested": run.pause_requested_at is not None,
        "cancel_requested": run.cancel_requested_at is not None,
        "progress": services.progress(run),
    }


def run_detail(dbms_type: str, run_id: int, user) -> dict[str, Any]:
    run = services.get_run(dbms_type, run_id, user)
    return {
        **run_summary(run),
        "clusters": [
            {
                "cluster": rc.cluster.name,
                "application": rc.cluster.application.name,
                "batch": rc.batch,
                "position": rc.position,
                "status": rc.status,
                "reason": rc.reason,
                "started_at": rc.started_at,
                "finished_at": rc.finished_at,
            }
            for rc in services.run_clusters(run, user)
        ],
        "steps": [step_out(s, run) for s in services.run_steps(run, user)],
    }


# ---------------------------------------------------------------- recipes


@router.get("/{dbms_type}/patchRecipes", response={200: RecipeList, **PROBLEMS}, summary="List patch recipes")
def list_recipes(
    request: HttpRequest,
    dbms_type: str,
    page: Query[LargePage],
):
    return page.of(services.list_recipes(resolve_dbms_type(dbms_type)), recipe_out)


@router.post(
    "/{dbms_type}/patchRecipes",
    response={201: RecipeOut, **PROBLEMS},
    summary="Create a patch recipe",
    description="Commands are templates: {server}, {host}, {port}, {version}, {cluster}, {patch_type}, "
    "{dbms_type}, {ssh_port} and variables of the recipe, the cluster or the server (e.g. {datadir}).",
)
def create_recipe(request: HttpRequest, dbms_type: str, payload: RecipeIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    data = payload.model_dump(exclude={"name"})
    return Status(201, recipe_out(services.create_recipe(dbms, payload.name, data, request.user)))


@router.get(
    "/{dbms_type}/patchRecipes/{name}", response={200: RecipeOut, **PROBLEMS}, summary="One patch recipe"
)
def get_recipe(request: HttpRequest, dbms_type: str, name: str):
    return recipe_out(services.get_recipe(resolve_dbms_type(dbms_type), name))


@router.patch(
    "/{dbms_type}/patchRecipes/{name}", response={200: RecipeOut, **PROBLEMS}, summary="Change a patch recipe"
)
def update_recipe(request: HttpRequest, dbms_type: str, name: str, payload: RecipePatch):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    return recipe_out(services.update_recipe(dbms, name, partial_update(payload), request.user))


@router.delete(
    "/{dbms_type}/patchRecipes/{name}",
    response={204: None, **PROBLEMS},
    summary="Delete an unused patch recipe",
    description="A recipe that runs used is kept for their history (409): set `active` to false instead.",
)
def delete_recipe(request: HttpRequest, dbms_type: str, name: str):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    services.delete_recipe(dbms, name, request.user)
    return Status(204, None)


# ---------------------------------------------------------------- cluster patch settings


@router.get(
    "/{dbms_type}/patchSettings/{cluster_name}",
    response={200: PatchSettingsOut, **PROBLEMS},
    summary="How a cluster is patched",
)
def get_patch_settings(request: HttpRequest, dbms_type: str, cluster_name: str):
    return settings_out(
        services.get_cluster_patch_settings(resolve_dbms_type(dbms_type), cluster_name, request.user)
    )


@router.patch(
    "/{dbms_type}/patchSettings/{cluster_name}",
    response={200: PatchSettingsOut, **PROBLEMS},
    summary="Change how a cluster is patched",
    description="primaryStrategy: in_place or switchover (blank: the type's default); switchoverCommand or "
    "patroniUrl for PostgreSQL switchovers; health limits; placeholder variables for every server and per server.",
)
def update_patch_settings(request: HttpRequest, dbms_type: str, cluster_name: str, payload: PatchSettingsIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    changes = partial_update(payload)
    return settings_out(services.update_cluster_patch_settings(dbms, cluster_name, changes, request.user))


# ---------------------------------------------------------------- target versions


@router.get(
    "/{dbms_type}/targetVersions",
    response={200: TargetVersionList, **PROBLEMS},
    summary="The versions the fleet should be at",
    description="Per patch type; set here or raised automatically when a run to a newer version succeeds. "
    "Reports call a server below it unpatched.",
)
def list_target_versions(request: HttpRequest, dbms_type: str):
    dbms = resolve_dbms_type(dbms_type)
    items = [target_out(t) for t in TargetVersion.objects.filter(dbms_type=dbms).select_related("updated_by")]
    return {"count": len(items), "items": items}


@router.put(
    "/{dbms_type}/targetVersions/{patch_type}",
    response={200: TargetVersionOut, **PROBLEMS},
    summary="Set a target version",
)
def set_target_version(request: HttpRequest, dbms_type: str, patch_type: PatchType, payload: TargetVersionIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    return target_out(services.set_target_version(dbms, patch_type, payload.version, request.user))


# ---------------------------------------------------------------- runs


@router.post(
    "/{dbms_type}/patchRuns",
    response={201: PatchRunOut, **PROBLEMS},
    summary="Start a rolling patch run (or a dry run)",
    description=(
        "Target exactly one of `cluster`, `clusters` or `selector` ({environment, application}: every active "
        "cluster of the type). Clusters are put in batches by `batches` (counts or percentages, the last "
        "repeating; the first batch is the canary), least critical environments first. Inside a cluster one "
        "server at a time, replicas first, the primary last. `dryRun` reads the live servers, runs the "
        "pre-checks and returns the ordered plan, changing nothing. A cluster already being patched is a 409."
    ),
)
def start_run(request: HttpRequest, dbms_type: str, payload: PatchRunIn):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    req = services.RunRequest(
        dbms_type=dbms,
        patch_type=payload.patch_type,
        patch_version=payload.patch_version,
        recipe=payload.recipe,
        cluster=payload.cluster,
        clusters=payload.clusters,
        selector=payload.selector is not None,
        environment=payload.selector.environment if payload.selector else None,
        application=payload.selector.application if payload.selector else None,
        batches=payload.batches,
        max_failures=payload.max_failures,
        dry_run=payload.dry_run,
    )
    run = services.start_patch_run(req, request.user)
    return Status(201, run_detail(dbms, run.pk, request.user))


@router.get("/{dbms_type}/patchRuns", response={200: PatchRunList, **PROBLEMS}, summary="List patch runs")
def list_runs(
    request: HttpRequest,
    dbms_type: str,
    page: Query[Page],
    status: RunStatusFilter | None = None,
    patch_type: Annotated[PatchType | None, Query(alias="patchType")] = None,
    cluster: str | None = None,
    dry_run: Annotated[bool | None, Query(alias="dryRun")] = None,
    active: Annotated[
        bool | None, Query(description="Only runs still going (true) or finished (false)")
    ] = None,
):
    qs = services.list_runs(
        resolve_dbms_type(dbms_type),
        request.user,
        status=status,
        patch_type=patch_type,
        cluster=cluster,
        dry_run=dry_run,
        active=active,
    )
    return page.of(qs, run_summary)


@router.get(
    "/{dbms_type}/patchRuns/{run_id}",
    response={200: PatchRunOut, **PROBLEMS},
    summary="A patch run with every step",
)
def get_run(request: HttpRequest, dbms_type: str, run_id: int):
    return run_detail(resolve_dbms_type(dbms_type), run_id, request.user)


@router.get(
    "/{dbms_type}/patchRuns/{run_id}/steps/{step_id}/output",
    response={200: StepOutputOut, **PROBLEMS},
    summary="A step's full output",
    description="stdout and stderr as they arrived; past the size cap the head and the tail are kept.",
)
def get_step_output(request: HttpRequest, dbms_type: str, run_id: int, step_id: int):
    step = services.get_step(resolve_dbms_type(dbms_type), run_id, step_id, request.user)
    return {
        "run_id": step.run_id,
        "step_id": step.pk,
        "server": step.server.name,
        "status": step.status,
        "output": step.output,
        "truncated": step.output_truncated,
    }


def _control(action, request: HttpRequest, dbms_type: str, run_id: int):
    dbms = resolve_dbms_type(dbms_type)
    require_dba(request)
    action(dbms, run_id, request.user)
    return run_detail(dbms, run_id, request.user)


@router.post(
    "/{dbms_type}/patchRuns/{run_id}/pause",
    response={200: PatchRunOut, **PROBLEMS},
    summary="Pause: start no new server",
    description="Servers in progress finish and are verified; then the run is paused until resumed.",
)
def pause_run(request: HttpRequest, dbms_type: str, run_id: int):
    return _control(services.pause_run, request, dbms_type, run_id)


@router.post(
    "/{dbms_type}/patchRuns/{run_id}/resume",
    response={200: PatchRunOut, **PROBLEMS},
    summary="Resume a paused run",
)
def resume_run(request: HttpRequest, dbms_type: str, run_id: int):
    return _control(services.resume_run, request, dbms_type, run_id)


@router.post(
    "/{dbms_type}/patchRuns/{run_id}/cancel",
    response={200: PatchRunOut, **PROBLEMS},
    summary="Cancel a run",
    description="Servers not started are cancelled at once; servers in progress finish and are verified.",
)
def cancel_run(request: HttpRequest, dbms_type: str, run_id: int):
    return _control(services.cancel_run, request, dbms_type, run_id)


@router.post(
    "/{dbms_type}/patchRuns/{run_id}/retryFailed",
    response={200: PatchRunOut, **PROBLEMS},
    summary="Retry the failed servers of a failed run",
    description="Failed servers and those their cluster's halt or the run's stop left unstarted get new steps; "
    "the old steps stay in the ledger.",
)
def retry_failed(request: HttpRequest, dbms_type: str, run_id: int):
    return _control(services.retry_failed, request, dbms_type, run_id)
