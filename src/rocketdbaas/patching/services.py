"""Patching rules: recipes, cluster patch settings, target versions, and patch runs
(start, dry run, follow, pause/resume/cancel/retry). The orchestrator executes runs.
"""

import logging
import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from rocketdbaas.accounts.scoping import visible_condition
from rocketdbaas.activities.models import ActivityType
from rocketdbaas.activities.services import record_activity
from rocketdbaas.core.config import config
from rocketdbaas.core.errors import Conflict, Invalid, NotFound
from rocketdbaas.dbms import connection_target, get_module
from rocketdbaas.dbms.base import patch_order
from rocketdbaas.dbms.versions import is_at
from rocketdbaas.inventory.models import Cluster, Environment, PoolStatus, Server
from rocketdbaas.patching.models import (
    ACTIVE_RUN_STATUSES,
    CLAIMABLE_RUN_STATUSES,
    IN_FLIGHT_STEP_STATUSES,
    VERSION_RE,
    ClusterPatchSettings,
    ClusterRunStatus,
    ExecutorKind,
    PatchRecipe,
    PatchRun,
    PatchRunCluster,
    PatchStep,
    PatchType,
    RunStatus,
    StepOutcome,
    TargetVersion,
)
from rocketdbaas.patching.run_state import (
    cancel_pending_steps,
    finish_run,
    lease_seconds,
    patch_settings_for,
    placeholders_in,
    server_variables,
)
from rocketdbaas.patching.tasks import enqueue_run
from rocketdbaas.telemetry.credentials import credentials_for

logger = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 20
MAX_CLUSTERS_PER_RUN = 1000
# The canary goes first: the least critical environments are patched before production.
ENVIRONMENT_ORDER = [Environment.DEV, Environment.QA, Environment.UAT, Environment.DR, Environment.PROD]


def _actor(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _who(user) -> str:
    actor = _actor(user)
    return actor.username if actor else "system"


# ---------------------------------------------------------------- versions and placeholders


def recipe_commands(recipe: PatchRecipe) -> dict[str, str]:
    """The recipe's templates that run as shell commands (the ansible command is a playbook path)."""
    return {
        "preCommand": recipe.pre_command,
        "command": recipe.command,
        "postCommand": recipe.post_command,
        "versionCommand": recipe.version_command,
    }


# ---------------------------------------------------------------- recipes


RECIPE_FIELDS = (
    "patch_type",
    "executor",
    "command",
    "pre_command",
    "post_command",
    "version_command",
    "timeout_seconds",
    "verify_timeout_seconds",
    "ssh_user",
    "variables",
    "description",
    "active",
)


def list_recipes(dbms_type: str) -> QuerySet[PatchRecipe]:
    return PatchRecipe.objects.filter(dbms_type=dbms_type).order_by("name")


def get_recipe(dbms_type: str, name: str) -> PatchRecipe:
    recipe = PatchRecipe.objects.filter(dbms_type=dbms_type, name=name).first()
    if recipe is None:
        raise NotFound(f"No {dbms_type} patch recipe named {name!r}.")
    return recipe


def _validate_recipe(recipe: PatchRecipe) -> None:
    # Placeholders may name cluster or server variables, so they are checked when a run starts.
    recipe.full_clean(validate_unique=False, validate_constraints=False)
    if recipe.executor == ExecutorKind.ANSIBLE and placeholders_in(recipe.command):
        raise ValidationError({"command": "An ansible command is a playbook path; pass values as variables."})


def create_recipe(dbms_type: str, name: str, data: dict[str, Any], user=None) -> PatchRecipe:
    recipe = PatchRecipe(
        dbms_type=dbms_type, name=name, **{k: v for k, v in data.items() if k in RECIPE_FIELDS}
    )
    _validate_recipe(recipe)
    try:
        with transaction.atomic():
            recipe.save()
            record_activity(
                dbms_type=dbms_type,
                type=ActivityType.PATCH,
                summary=f"Patch recipe {name} created by {_who(user)}",
                user=user,
                details={"recipe": name, "action": "create"},
            )
    except IntegrityError:
        raise Conflict(f"A {dbms_type} patch recipe named {name!r} already exists.") from None
    return recipe


def update_recipe(dbms_type: str, name: str, changes: dict[str, Any], user=None) -> PatchRecipe:
    with transaction.atomic():
        recipe = get_recipe(dbms_type, name)
        recipe = PatchRecipe.objects.select_for_update().get(pk=recipe.pk)
        for key, value in changes.items():
            if key in RECIPE_FIELDS:
                setattr(recipe, key, value)
        _validate_recipe(recipe)
        recipe.save()
        record_activity(
            dbms_type=dbms_type,
            type=ActivityType.PATCH,
            summary=f"Patch recipe {name} changed by {_who(user)}",
            user=user,
            details={
                "recipe": name,
                "action": "update",
                "fields": sorted(k for k in changes if k in RECIPE_FIELDS),
            },
        )
    return recipe


def delete_recipe(dbms_type: str, name: str, user=None) -> None:
    with transaction.atomic():
        recipe = get_recipe(dbms_type, name)
        if recipe.runs.exists():
            raise Conflict(
                f"Patch recipe {name!r} is referenced by patch runs (history keeps it); set active to false instead."
            )
        recipe.delete()
        record_activity(
            dbms_type=dbms_type,
            type=ActivityType.PATCH,
            summary=f"Patch recipe {name} deleted by {_who(user)}",
            user=user,
            details={"recipe": name, "action": "delete"},
        )


# ---------------------------------------------------------------- cluster patch settings


def _get_cluster(dbms_type: str, name: str, user=None) -> Cluster:
    cluster = (
        Cluster.objects.visible_to(user)
        .filter(dbms_type=dbms_type, name=name)
        .select_related("application")
        .first()
    )
    if cluster is None:
        raise NotFound(f"No {dbms_type} cluster named {name!r}.")
    return cluster


def get_cluster_patch_settings(dbms_type: str, cluster_name: str, user=None) -> ClusterPatchSettings:
    return patch_settings_for(_get_cluster(dbms_type, cluster_name, user))


SETTINGS_FIELDS = (
    "primary_strategy",
    "switchover_command",
    "patroni_url",
    "max_lag_bytes",
    "max_lag_seconds",
    "variables",
    "server_variables",
)


def update_cluster_patch_settings(
    dbms_type: str, cluster_name: str, changes: dict[str, Any], user=None
) -> ClusterPatchSettings:
    with transaction.atomic():
        cluster = _get_cluster(dbms_type, cluster_name, user)
        patch_settings = ClusterPatchSettings.objects.filter(cluster=cluster).first() or ClusterPatchSettings(
            cluster=cluster
        )
        for key, value in changes.items():
            if key in SETTINGS_FIELDS:
                setattr(patch_settings, key, value)
        patch_settings.full_clean(exclude=["cluster"])
        patch_settings.save()
        record_activity(
            dbms_type=dbms_type,
            type=ActivityType.CLUSTER_CHANGE,
            summary=f"Patch settings of {cluster.name} changed by {_who(user)}",
            cluster=cluster,
            user=user,
            details={"patchSettings": sorted(k for k in changes if k in SETTINGS_FIELDS)},
        )
    return patch_settings


# ---------------------------------------------------------------- target versions


def target_versions(dbms_type: str | None = None) -> dict[tuple[str, str], str]:
    """(dbms_type, patch_type) -> the version that fleet should be at.

    Set explicitly (admin, API) or raised automatically when a run succeeds with a newer version.
    """
    qs = TargetVersion.objects.all()
    if dbms_type:
        qs = qs.filter(dbms_type=dbms_type)
    return {(t.dbms_type, t.patch_type): t.version for t in qs}


def set_target_version(dbms_type: str, patch_type: str, version: str, user=None) -> TargetVersion:
    if not VERSION_RE.match(version):
        raise Invalid("The version is not valid.", [{"field": "version", "message": "Not a version string."}])
    with transaction.atomic():
        target, _ = TargetVersion.objects.update_or_create(
            dbms_type=dbms_type,
            patch_type=patch_type,
            defaults={"version": version, "updated_by": _actor(user)},
        )
        record_activity(
            dbms_type=dbms_type,
            type=ActivityType.PATCH,
            summary=f"Target {patch_type} version of {dbms_type} set to {version} by {_who(user)}",
            user=user,
            details={"targetVersion": version, "patchType": patch_type},
        )
    return target


# ---------------------------------------------------------------- batch plans


def parse_batches(batches: Sequence[Any]) -> list[int | str]:
    """Validate a batch plan: positive counts of clusters or percentages ("25%") of them."""
    errors: list[dict[str, Any]] = []
    if not batches:
        errors.append({"field": "batches", "message": "Give at least one batch size."})
    if len(batches) > MAX_BATCH_ITEMS:
        errors.append({"field": "batches", "message": f"At most {MAX_BATCH_ITEMS} batch sizes."})
    plan: list[int | str] = []
    for i, item in enumerate(batches):
        where = f"batches.{i}"
        if isinstance(item, bool):
            errors.append({"field": where, "message": "A batch size is a number or a percentage."})
        elif isinstance(item, int):
            if item < 1:
                errors.append({"field": where, "message": "A batch has at least 1 cluster."})
            plan.append(item)
        elif isinstance(item, str) and re.fullmatch(r"\d{1,3}%", item.strip()):
            pct = int(item.strip()[:-1])
            if not 1 <= pct <= 100:
                errors.append({"field": where, "message": "A percentage is between 1% and 100%."})
            plan.append(f"{pct}%")
        else:
            errors.append(
                {"field": where, "message": f"{item!r} is neither a count nor a percentage like '25%'."}
            )
    if errors:
        raise Invalid("The batch plan is not valid.", errors)
    return plan


def batch_sizes(total: int, plan: Sequence[int | str]) -> list[int]:
    """How many clusters each batch takes: percentages of all clusters, rounded up; the last
    size repeats until every cluster has a batch (as Ansible's `serial` does)."""
    sizes: list[int] = []
    remaining = total
    i = 0
    while remaining > 0:
        item = plan[min(i, len(plan) - 1)]
        size = math.ceil(total * int(item[:-1]) / 100) if isinstance(item, str) else int(item)
        size = max(1, min(size, remaining))
        sizes.append(size)
        remaining -= size
        i += 1
    return sizes


# ---------------------------------------------------------------- starting runs


@dataclass
class RunRequest:
    dbms_type: str
    patch_type: str
    patch_version: str
    recipe: str
    cluster: str | None = None
    clusters: list[str] | None = None
    environment: str | None = None
    application: str | None = None
    selector: bool = False
    batches: list[Any] = field(default_factory=lambda: [1])
    max_failures: int = 1
    dry_run: bool = False

    def target(self) -> dict[str, Any]:
        if self.cluster is not None:
            return {"cluster": self.cluster}
        if self.clusters is not None:
            return {"clusters": list(self.clusters)}
        return {"selector": {"environment": self.environment, "application": self.application}}


@dataclass
class ResolvedRun:
    recipe: PatchRecipe
    batches: list[int | str]
    clusters: list[Cluster]  # in patch order (batch, position)
    servers: dict[int, list[Server]]  # cluster id -> its servers
    settings: dict[int, ClusterPatchSettings]


def _resolve_clusters(req: RunRequest) -> list[Cluster]:
    errors: list[dict[str, Any]] = []
    given = sum(x is not None for x in (req.cluster, req.clusters)) + int(req.selector)
    if given != 1:
        raise Invalid(
            "Give exactly one target: cluster, clusters or selector.",
            [{"field": "cluster", "message": "Exactly one of cluster, clusters, selector."}],
        )
    qs = Cluster.objects.filter(dbms_type=req.dbms_type).select_related("application")
    if req.selector:
        qs = qs.fleet()
        if req.environment:
            if req.environment not in Environment.values:
                errors.append(
                    {"field": "selector.environment", "message": f"Unknown environment {req.environment!r}."}
                )
            qs = qs.filter(environment=req.environment)
        if req.application:
            qs = qs.filter(application__name=req.application)
        if errors:
            raise Invalid("The target is not valid.", errors)
        clusters = list(qs)
    else:
        names = [req.cluster] if req.cluster is not None else list(req.clusters or [])
        if len(set(names)) != len(names):
            errors.append({"field": "clusters", "message": "A cluster is listed twice."})
        by_name = {c.name: c for c in qs.filter(name__in=names)}
        in_fleet = set(qs.fleet().filter(name__in=names).values_list("name", flat=True))
        for name in names:
            if name not in by_name:
                errors.append({"field": "clusters", "message": f"No {req.dbms_type} cluster named {name!r}."})
            elif name not in in_fleet:
                errors.append(
                    {"field": "clusters", "message": f"Cluster {name} is {by_name[name].status}, not active."}
                )
        if errors:
            raise Invalid("The target is not valid.", errors)
        clusters = [by_name[n] for n in names]
    if not clusters:
        raise Invalid(
            "The target matches no cluster.", [{"field": "target", "message": "No cluster to patch."}]
        )
    if len(clusters) > MAX_CLUSTERS_PER_RUN:
        raise Invalid(
            "Too many clusters.",
            [{"field": "target", "message": f"At most {MAX_CLUSTERS_PER_RUN} clusters per run."}],
        )
    rank: dict[str, int] = {env.value: i for i, env in enumerate(ENVIRONMENT_ORDER)}
    return sorted(clusters, key=lambda c: (rank.get(c.environment, len(rank)), c.name))


def resolve_run(req: RunRequest) -> ResolvedRun:
    """Check everything a run needs; any problem is a 4xx and nothing is created."""
    errors: list[dict[str, Any]] = []
    if req.patch_type not in PatchType.values:
        errors.append({"field": "patchType", "message": "patchType is DB or OS."})
    if not VERSION_RE.match(req.patch_version or ""):
        errors.append(
            {"field": "patchVersion", "message": "Not a version string (letters, digits, . _ + : ~ -)."}
        )
    if req.max_failures < 1:
        errors.append({"field": "maxFailures", "message": "maxFailures is at least 1."})
    recipe = PatchRecipe.objects.filter(dbms_type=req.dbms_type, name=req.recipe).first()
    if recipe is None:
        errors.append(
            {"field": "recipe", "message": f"No {req.dbms_type} patch recipe named {req.recipe!r}."}
        )
    elif not recipe.active:
        errors.append({"field": "recipe", "message": f"Patch recipe {req.recipe!r} is not active."})
    elif recipe.patch_type != req.patch_type:
        errors.append(
            {
                "field": "recipe",
                "message": f"Recipe {req.recipe!r} patches {recipe.patch_type}, not {req.patch_type}.",
            }
        )
    if errors:
        raise Invalid("The patch run request is not valid.", errors)
    assert recipe is not None
    batches = parse_batches(req.batches)
    clusters = _resolve_clusters(req)

    servers: dict[int, list[Server]] = {c.pk: [] for c in clusters}
    for server in (
        Server.objects.filter(cluster__in=clusters, status=PoolStatus.USED)
        .select_related("cluster")
        .order_by("name")
    ):
        assert server.cluster_id is not None
        servers[server.cluster_id].append(server)
    cluster_settings = {s.cluster_id: s for s in ClusterPatchSettings.objects.filter(cluster__in=clusters)}
    for cluster in clusters:
        if not servers[cluster.pk]:
            errors.append({"field": "clusters", "message": f"Cluster {cluster.name} has no servers."})
        patch_settings = cluster_settings.get(cluster.pk) or ClusterPatchSettings(cluster=cluster)
        cluster_settings[cluster.pk] = patch_settings
        for server in servers[cluster.pk]:
            values = server_variables(recipe, patch_settings, server, req.patch_version)
            templates = dict(recipe_commands(recipe))
            if recipe.executor == ExecutorKind.ANSIBLE:
                templates.pop("command")
            templates["switchoverCommand"] = patch_settings.switchover_command
            templates["patroniUrl"] = patch_settings.patroni_url
            for field_name, template in templates.items():
                missing = placeholders_in(template) - set(values) - _candidate_placeholders(template)
                if missing:
                    errors.append(
                        {
                            "field": field_name,
                            "message": f"{{{sorted(missing)[0]}}} has no value for server {server.name} "
                            f"(set it in the recipe's or the cluster's patch variables).",
                        }
                    )
    if errors:
        raise Invalid("The patch run cannot start.", errors[:50])
    busy = (
        PatchRunCluster.objects.filter(cluster__in=clusters, active=True)
        .select_related("cluster")
        .order_by("cluster__name")
    )
    if busy:
        raise Conflict(
            "Already being patched: "
            + ", ".join(f"{rc.cluster.name} (run {rc.run_id})" for rc in busy)
            + ". Wait for that run to finish or cancel it.",
            clusters=[rc.cluster.name for rc in busy],
        )
    return ResolvedRun(recipe, batches, clusters, servers, cluster_settings)


def _candidate_placeholders(template: str) -> set[str]:
    # The switchover command also knows the candidate replica it hands over to.
    return {p for p in placeholders_in(template) if p.startswith("candidate")}


def start_patch_run(req: RunRequest, user=None) -> PatchRun:
    """Create a run, its clusters (in batches) and a pending step per server, then queue it.

    A dry run reads every server's live role and version, runs the pre-checks and records the
    ordered plan (steps skipped, with the checks), touching nothing.
    """
    resolved = resolve_run(req)
    if req.dry_run:
        return _record_dry_run(req, resolved, user, plan_clusters(req, resolved))
    sizes = batch_sizes(len(resolved.clusters), resolved.batches)
    try:
        with transaction.atomic():
            run = _create_run(req, resolved, user, queued_at=timezone.now())
            _create_clusters_and_steps(run, resolved, sizes, plan=None)
            record_activity(
                dbms_type=req.dbms_type,
                type=ActivityType.PATCH,
                summary=f"Patch run #{run.pk} ({req.patch_type} {req.patch_version}, {len(resolved.clusters)} "
                f"cluster(s)) started by {_who(user)}",
                user=user,
                details={"run": run.pk, "action": "start", "clusters": [c.name for c in resolved.clusters]},
            )
            transaction.on_commit(lambda: enqueue_run(run.pk))
    except IntegrityError:
        # Another run took one of these clusters between our check and our insert.
        raise Conflict("One of these clusters was just claimed by another patch run; try again.") from None
    return run


def _create_run(req: RunRequest, resolved: ResolvedRun, user, **fields: Any) -> PatchRun:
    return PatchRun.objects.create(
        dbms_type=req.dbms_type,
        patch_type=req.patch_type,
        patch_version=req.patch_version,
        recipe=resolved.recipe,
        target=req.target(),
        batches=resolved.batches,
        max_failures=req.max_failures,
        created_by=_actor(user),
        request_id=_request_id(),
        **fields,
    )


def _request_id() -> str:
    from rocketdbaas.core.middleware import current_request_id

    rid = current_request_id()
    return "" if rid == "-" else rid


def _create_clusters_and_steps(
    run: PatchRun, resolved: ResolvedRun, sizes: list[int], plan: dict[int, "ClusterPlan"] | None
) -> None:
    now = timezone.now()
    run_clusters = []
    batch_of: dict[int, int] = {}
    index = 0
    for batch_no, size in enumerate(sizes, start=1):
        for position in range(size):
            cluster = resolved.clusters[index]
            index += 1
            batch_of[cluster.pk] = batch_no
            cluster_plan = plan.get(cluster.pk) if plan else None
            run_clusters.append(
                PatchRunCluster(
                    run=run,
                    cluster=cluster,
                    batch=batch_no,
                    position=position + 1,
                    active=plan is None,
                    status=cluster_plan.status if cluster_plan else ClusterRunStatus.PENDING,
                    reason=cluster_plan.reason if cluster_plan else "",
                    started_at=now if plan else None,
                    finished_at=now if plan else None,
                )
            )
    PatchRunCluster.objects.bulk_create(run_clusters)
    by_cluster = {rc.cluster_id: rc for rc in PatchRunCluster.objects.filter(run=run)}
    steps = []
    for cluster in resolved.clusters:
        rc = by_cluster[cluster.pk]
        cluster_plan = plan.get(cluster.pk) if plan else None
        members = resolved.servers[cluster.pk]
        if cluster_plan:
            members = sorted(members, key=lambda s: cluster_plan.order.index(s.name))
        else:
            # The real order comes from live roles when the cluster's turn comes; until then, the inventory's.
            module = get_module(cluster.dbms_type)
            roles = {s.name: s.role for s in members}
            primary = next((s.name for s in members if s.role == module.PRIMARY_ROLE), None)
            ordered = patch_order(module, roles, primary)
            members = sorted(members, key=lambda s: ordered.index(s.name))
        for position, server in enumerate(members, start=1):
            step = PatchStep(
                run=run,
                run_cluster=rc,
                cluster=cluster,
                server=server,
                batch=batch_of[cluster.pk],
                position=position,
            )
            if cluster_plan:
                planned = cluster_plan.servers[server.name]
                step.status = step.outcome = StepOutcome.SKIPPED
                step.reason = planned.reason
                step.role_before = planned.role
                step.version_before = planned.version
                step.checks = planned.checks
                step.started_at = step.finished_at = now
            steps.append(step)
    PatchStep.objects.bulk_create(steps)


# ---------------------------------------------------------------- dry runs


@dataclass
class ServerPlan:
    role: str = ""
    version: str = ""
    action: str = "patch"  # patch | skip | blocked
    reason: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ClusterPlan:
    order: list[str]
    servers: dict[str, ServerPlan]
    status: str = ClusterRunStatus.SUCCEEDED
    reason: str = ""


def _check(name: str, ok: bool, detail: str = "") -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail, "at": timezone.now().isoformat()}


def plan_clusters(req: RunRequest, resolved: ResolvedRun) -> dict[int, ClusterPlan]:
    """Read each cluster's live state and run the pre-checks, in parallel across clusters."""
    from rocketdbaas.patching.executors.ssh import trusted_host_keys

    known_hosts = trusted_host_keys() if resolved.recipe.executor != ExecutorKind.LOCAL else ""
    targets = {
        s.pk: connection_target(s, credentials_for(s))
        for members in resolved.servers.values()
        for s in members
    }

    def plan_one(cluster: Cluster) -> tuple[int, ClusterPlan]:
        try:
            return cluster.pk, _plan_cluster(req, resolved, cluster, targets, known_hosts)
        finally:
            connections.close_all()

    workers = max(1, min(len(resolved.clusters), config.PATCH_MAX_PARALLEL_CLUSTERS))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="patch-plan") as pool:
        return dict(pool.map(plan_one, resolved.clusters))


def _plan_cluster(
    req: RunRequest, resolved: ResolvedRun, cluster: Cluster, targets: dict, known_hosts: str
) -> ClusterPlan:
    from rocketdbaas.patching.orchestrator import health_limits, read_version

    recipe = resolved.recipe
    patch_settings = resolved.settings[cluster.pk]
    members = resolved.servers[cluster.pk]
    module = get_module(cluster.dbms_type)
    health = module.check_cluster_health(
        [(s.name, targets[s.pk]) for s in members], health_limits(patch_settings)
    )
    roles = {name: state.role for name, state in health.states.items()}
    order = patch_order(module, roles, health.primary)
    plan = ClusterPlan(order=order, servers={})
    for server in members:
        state = health.states[server.name]
        sp = ServerPlan(role=state.role)
        plan.servers[server.name] = sp
        sp.checks.append(_check("reachable", state.reachable, state.error))
        if not state.reachable:
            sp.action, sp.reason = (
                "blocked",
                f"dry run: pre-check failed: {server.name} is unreachable ({state.error})",
            )
            continue
        executor = _executor_for(recipe, patch_settings, server, req.patch_version, known_hosts)
        problems = executor.preflight()
        sp.checks.append(_check("executor", not problems, "; ".join(problems)))
        version, error = read_version(recipe, executor, state)
        sp.version = version
        sp.checks.append(_check("version", not error, error or version))
        if error or problems:
            sp.action, sp.reason = "blocked", f"dry run: pre-check failed: {error or '; '.join(problems)}"
        elif is_at(version, req.patch_version):
            sp.action, sp.reason = "skip", f"dry run: already at {version}, would be skipped"
        elif not health.healthy:
            sp.action, sp.reason = (
                "blocked",
                "dry run: pre-check failed: cluster unhealthy: " + "; ".join(health.problems),
            )
        else:
            primary_note = " (primary: last)" if server.name == health.primary else ""
            sp.reason = f"dry run: would patch {version or '?'} -> {req.patch_version}{primary_note}"
        sp.checks.append(_check("cluster healthy", health.healthy, "; ".join(health.problems)))
    blocked = [name for name in order if plan.servers[name].action == "blocked"]
    if blocked:
        plan.status = ClusterRunStatus.FAILED
        plan.reason = f"pre-checks failed on {', '.join(blocked)}"
    return plan


def _executor_for(recipe, patch_settings, server, patch_version, known_hosts):
    from rocketdbaas.patching.executors import build_executor
    from rocketdbaas.patching.executors.ssh import SshExecutor
    from rocketdbaas.patching.orchestrator import remote_host

    host = remote_host(recipe, server_variables(recipe, patch_settings, server, patch_version), server)
    if recipe.executor == ExecutorKind.SSH:
        return SshExecutor(host, known_hosts=known_hosts)
    return build_executor(recipe.executor, host)


def _record_dry_run(req: RunRequest, resolved: ResolvedRun, user, plan: dict[int, ClusterPlan]) -> PatchRun:
    sizes = batch_sizes(len(resolved.clusters), resolved.batches)
    failed = [rc for rc in plan.values() if rc.status == ClusterRunStatus.FAILED]
    now = timezone.now()
    with transaction.atomic():
        run = _create_run(
            req,
            resolved,
            user,
            dry_run=True,
            status=RunStatus.FAILED if failed else RunStatus.SUCCEEDED,
            reason=f"pre-checks failed in {len(failed)} cluster(s)" if failed else "",
            started_at=now,
            finished_at=now,
        )
        _create_clusters_and_steps(run, resolved, sizes, plan=plan)
    return run


# ---------------------------------------------------------------- reading runs


def visible_runs(user) -> QuerySet[PatchRun]:
    return PatchRun.objects.visible_to(user)


def with_progress(qs: QuerySet[PatchRun], user=None) -> QuerySet[PatchRun]:
    """Counts of the steps `user` may see per state, computed in the same query as the runs, and
    `partial`: the run also spans clusters the user may not see (its target and reason then stay
    hidden, as they may name them)."""
    mine = visible_condition(user, "steps__cluster__application")
    return qs.annotate(
        steps_total=Count("steps", filter=mine or None, distinct=True),
        steps_succeeded=Count("steps", filter=mine & Q(steps__outcome=StepOutcome.SUCCEEDED), distinct=True),
        steps_failed=Count("steps", filter=mine & Q(steps__outcome=StepOutcome.FAILED), distinct=True),
        steps_skipped=Count("steps", filter=mine & Q(steps__outcome=StepOutcome.SKIPPED), distinct=True),
        steps_cancelled=Count("steps", filter=mine & Q(steps__outcome=StepOutcome.CANCELLED), distinct=True),
        steps_in_flight=Count(
            "steps", filter=mine & Q(steps__status__in=IN_FLIGHT_STEP_STATUSES), distinct=True
        ),
        partial=Exists(
            PatchRunCluster.objects.filter(run=OuterRef("pk")).exclude(
                pk__in=PatchRunCluster.objects.visible_to(user).values("pk")
            )
        ),
    ).select_related("recipe", "created_by")


def list_runs(
    dbms_type: str,
    user=None,
    *,
    status: str | None = None,
    patch_type: str | None = None,
    cluster: str | None = None,
    dry_run: bool | None = None,
    active: bool | None = None,
) -> QuerySet[PatchRun]:
    qs = list_filtered(
        visible_runs(user).filter(dbms_type=dbms_type),
        user,
        status=status,
        patch_type=patch_type,
        cluster=cluster,
        dry_run=dry_run,
        active=active,
    )
    return qs.order_by("-created_at", "-id")


def list_filtered(
    qs: QuerySet[PatchRun],
    user=None,
    *,
    status: str | None = None,
    patch_type: str | None = None,
    cluster: str | None = None,
    dry_run: bool | None = None,
    active: bool | None = None,
) -> QuerySet[PatchRun]:
    if status:
        qs = qs.filter(status=status)
    if patch_type:
        qs = qs.filter(patch_type=patch_type)
    if cluster:
        qs = qs.filter(
            Exists(PatchRunCluster.objects.visible_to(user).filter(run=OuterRef("pk"), cluster__name=cluster))
        )
    if dry_run is not None:
        qs = qs.filter(dry_run=dry_run)
    if active is not None:
        qs = (
            qs.filter(status__in=ACTIVE_RUN_STATUSES)
            if active
            else qs.exclude(status__in=ACTIVE_RUN_STATUSES)
        )
    return with_progress(qs, user)


def get_run(dbms_type: str | None, run_id: int, user=None) -> PatchRun:
    qs = visible_runs(user).filter(pk=run_id)
    if dbms_type:
        qs = qs.filter(dbms_type=dbms_type)
    run = with_progress(qs, user).first()
    if run is None:
        raise NotFound(f"No patch run {run_id}" + (f" of type {dbms_type}." if dbms_type else "."))
    return run


def run_steps(run: PatchRun, user=None) -> QuerySet[PatchStep]:
    """Steps in the order they are (or were) patched; output left out (it can be large)."""
    return (
        PatchStep.objects.visible_to(user)
        .filter(run=run)
        .select_related("cluster", "server", "run_cluster")
        .defer("output")
        .order_by("batch", "run_cluster__position", "position", "id")
    )


def run_clusters(run: PatchRun, user=None) -> QuerySet[PatchRunCluster]:
    return (
        PatchRunCluster.objects.visible_to(user)
        .filter(run=run)
        .select_related("cluster__application")
        .order_by("batch", "position")
    )


def get_step(dbms_type: str | None, run_id: int, step_id: int, user=None) -> PatchStep:
    runs = visible_runs(user).filter(dbms_type=dbms_type) if dbms_type else visible_runs(user)
    step = (
        PatchStep.objects.visible_to(user)
        .filter(run__in=runs, run_id=run_id, pk=step_id)
        .select_related("server", "cluster")
        .first()
    )
    if step is None:
        raise NotFound(f"No step {step_id} in patch run {run_id}.")
    return step


def progress(run: PatchRun) -> dict[str, int]:
    """From with_progress() annotations."""
    counts: Any = run
    total = counts.steps_total
    done = counts.steps_succeeded + counts.steps_failed + counts.steps_skipped + counts.steps_cancelled
    return {
        "total": total,
        "done": done,
        "succeeded": counts.steps_succeeded,
        "failed": counts.steps_failed,
        "skipped": counts.steps_skipped,
        "cancelled": counts.steps_cancelled,
        "inFlight": counts.steps_in_flight,
        "percent": round(100 * done / total) if total else 100,
    }


# ---------------------------------------------------------------- control


def _owned_by_live_worker(run: PatchRun) -> bool:
    return bool(
        run.owner
        and run.heartbeat_at
        and run.heartbeat_at > timezone.now() - timedelta(seconds=lease_seconds())
    )


def _locked_run(dbms_type: str, run_id: int, user) -> PatchRun:
    run = get_run(dbms_type, run_id, user)
    return PatchRun.objects.select_for_update().get(pk=run.pk)


def _record_control(run: PatchRun, action: str, user, summary: str) -> None:
    record_activity(
        dbms_type=run.dbms_type,
        type=ActivityType.PATCH,
        summary=summary,
        user=user,
        details={"run": run.pk, "action": action},
    )


def pause_run(dbms_type: str, run_id: int, user=None) -> PatchRun:
    """Stop starting servers; the ones in progress finish (a server is never left half-patched)."""
    with transaction.atomic():
        run = _locked_run(dbms_type, run_id, user)
        if run.dry_run or run.status not in CLAIMABLE_RUN_STATUSES:
            raise Conflict(f"Patch run {run.pk} is {run.status}; only a pending or running run can pause.")
        if run.pause_requested_at is None:
            run.pause_requested_at = timezone.now()
            fields = ["pause_requested_at"]
            if (
                not _owned_by_live_worker(run)
                and not run.steps.filter(status__in=IN_FLIGHT_STEP_STATUSES).exists()
            ):
                # No worker is on it: it is paused as of now.
                run.status = RunStatus.PAUSED
                run.owner = ""
                fields += ["status", "owner"]
            run.save(update_fields=fields)
            _record_control(run, "pause", user, f"Patch run #{run.pk} paused by {_who(user)}")
    return run


def resume_run(dbms_type: str, run_id: int, user=None) -> PatchRun:
    with transaction.atomic():
        run = _locked_run(dbms_type, run_id, user)
        if run.status == RunStatus.PAUSED:
            run.status = RunStatus.RUNNING if run.started_at else RunStatus.PENDING
        elif not (run.status in CLAIMABLE_RUN_STATUSES and run.pause_requested_at):
            raise Conflict(f"Patch run {run.pk} is {run.status}, not paused.")
        run.pause_requested_at = None
        run.save(update_fields=["status", "pause_requested_at"])
        _record_control(run, "resume", user, f"Patch run #{run.pk} resumed by {_who(user)}")
        transaction.on_commit(lambda: enqueue_run(run.pk))
    return run


def cancel_run(dbms_type: str, run_id: int, user=None) -> PatchRun:
    """Cancel every server not started yet, now; servers in progress finish and are verified,
    then the run ends cancelled."""
    with transaction.atomic():
        run = _locked_run(dbms_type, run_id, user)
        if run.dry_run or run.status not in ACTIVE_RUN_STATUSES:
            raise Conflict(f"Patch run {run.pk} is {run.status}; it cannot be cancelled.")
        now = timezone.now()
        run.cancel_requested_at = run.cancel_requested_at or now
        run.save(update_fields=["cancel_requested_at"])
        cancelled = cancel_pending_steps(run, f"cancelled by {_who(user)}")
        _record_control(
            run,
            "cancel",
            user,
            f"Patch run #{run.pk} cancelled by {_who(user)} ({cancelled} server(s) not started)",
        )
        if (
            not _owned_by_live_worker(run)
            and not run.steps.filter(status__in=IN_FLIGHT_STEP_STATUSES).exists()
        ):
            finish_run(run, RunStatus.CANCELLED, f"cancelled by {_who(user)}")
    return run


def retry_failed(dbms_type: str, run_id: int, user=None) -> PatchRun:
    """Run again, in a finished failed run, the servers that failed and those that never got
    their turn because their cluster halted or the run stopped. Old steps stay in the ledger;
    the retries are new steps pointing at them."""
    with transaction.atomic():
        run = _locked_run(dbms_type, run_id, user)
        if run.dry_run or run.status != RunStatus.FAILED:
            raise Conflict(
                f"Patch run {run.pk} is {run.status}; only a failed run can retry its failed servers."
            )
        retry = list(
            run.steps.filter(outcome__in=[StepOutcome.FAILED, StepOutcome.CANCELLED], retries__isnull=True)
            .select_related("run_cluster")
            .order_by("pk")
        )
        if not retry:
            raise Conflict(f"Patch run {run.pk} has no failed or unfinished servers to retry.")
        cluster_ids = sorted({s.run_cluster_id for s in retry})
        try:
            with transaction.atomic():
                PatchRunCluster.objects.filter(pk__in=cluster_ids).update(
                    status=ClusterRunStatus.PENDING, active=True, reason="", finished_at=None
                )
        except IntegrityError:
            raise Conflict("One of its clusters is being patched by another run now.") from None
        PatchStep.objects.bulk_create(
            PatchStep(
                run=run,
                run_cluster_id=s.run_cluster_id,
                cluster_id=s.cluster_id,
                server_id=s.server_id,
                batch=s.batch,
                position=s.position,
                retry_of=s,
            )
            for s in retry
        )
        run.status = RunStatus.RUNNING
        run.finished_at = None
        run.reason = ""
        run.cancel_requested_at = None
        run.pause_requested_at = None
        run.save(
            update_fields=["status", "finished_at", "reason", "cancel_requested_at", "pause_requested_at"]
        )
        _record_control(
            run, "retryFailed", user, f"Patch run #{run.pk}: {len(retry)} server(s) retried by {_who(user)}"
        )
        transaction.on_commit(lambda: enqueue_run(run.pk))
    return run


# ---------------------------------------------------------------- other apps


def patch_history(cluster: Cluster, limit_per_server: int = 5) -> dict[int, list[PatchStep]]:
    """Each server's latest real patch steps (newest first), in one query."""
    newest_first = [F("started_at").desc(nulls_last=True), F("id").desc()]
    steps = (
        PatchStep.objects.filter(cluster=cluster, run__dry_run=False, started_at__isnull=False)
        .annotate(nth=Window(RowNumber(), partition_by=[F("server_id")], order_by=newest_first))
        .filter(nth__lte=limit_per_server)
        .select_related("run", "server")
        .defer("output")
        .order_by("server__name", *newest_first)
    )
    history: dict[int, list[PatchStep]] = {}
    for step in steps:
        history.setdefault(step.server_id, []).append(step)
    return history


PATCHES_PER_SERVER_ON_CLUSTER_PAGE = 3


@dataclass
class ServerPatches:
    server: Server
    steps: list[PatchStep]  # newest first


@dataclass
class ClusterPatching:
    """Each member's latest patches (members by name) and the run patching the cluster now."""

    servers: list[ServerPatches]
    active_run: PatchRunCluster | None

    @property
    def history(self) -> list[PatchStep]:
        return [step for row in self.servers for step in row.steps]


def cluster_patching(cluster: Cluster) -> ClusterPatching:
    """The patching section of a cluster the caller may see (three queries)."""
    history = patch_history(cluster, limit_per_server=PATCHES_PER_SERVER_ON_CLUSTER_PAGE)
    members = cluster.servers.filter(status=PoolStatus.USED).order_by("name")
    active = (
        PatchRunCluster.objects.filter(cluster=cluster, active=True)
        .select_related("run")
        .order_by("-pk")
        .first()
    )
    return ClusterPatching([ServerPatches(s, history.get(s.pk, [])) for s in members], active)
