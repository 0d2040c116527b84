"""A patch run's state as the orchestrator and the control services both change it: leases, closing
runs and their steps, raising the fleet's target version, and the values a server's commands are
rendered with.
"""

import re
from collections.abc import Iterable
from typing import Any

from django.db import close_old_connections, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from rocketdbaas.core.config import config
from rocketdbaas.dbms import get_module
from rocketdbaas.dbms.versions import is_below
from rocketdbaas.inventory.models import Cluster, Server
from rocketdbaas.patching import signals
from rocketdbaas.patching.models import (
    IN_FLIGHT_STEP_STATUSES,
    ClusterPatchSettings,
    ClusterRunStatus,
    PatchRecipe,
    PatchRun,
    PatchStep,
    RunStatus,
    StepOutcome,
    StepStatus,
    TargetVersion,
)


def lease_seconds() -> int:
    return config.PATCH_LEASE_SECONDS


_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: str, values: dict[str, Any]) -> str:
    """Fill {name} placeholders; shell ${VAR} is left alone. An unknown name is a KeyError."""

    def fill(match: re.Match) -> str:
        return str(values[match.group(1)])

    return _PLACEHOLDER.sub(fill, template)


def placeholders_in(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def server_variables(
    recipe: PatchRecipe, patch_settings: ClusterPatchSettings, server: Server, patch_version: str
) -> dict[str, Any]:
    """Everything a command for this server may use: recipe defaults < cluster variables <
    server variables < the built-in facts (which cannot be overridden, except ssh_port)."""
    values: dict[str, Any] = {}
    values.update(recipe.variables or {})
    values.update(patch_settings.variables or {})
    values.update((patch_settings.server_variables or {}).get(server.name, {}))
    module = get_module(server.dbms_type)
    values.setdefault("ssh_port", config.PATCH_SSH_PORT)
    values.update(
        server=server.name,
        host=server.address,
        port=server.port or module.DEFAULT_PORT,
        version=patch_version,
        patch_type=recipe.patch_type,
        dbms_type=server.dbms_type,
        cluster=server.cluster.name if server.cluster is not None else "",
    )
    return values


def patch_settings_for(cluster: Cluster) -> ClusterPatchSettings:
    """The cluster's settings, or the defaults (unsaved) when it has none."""
    try:
        return cluster.patch_settings
    except ClusterPatchSettings.DoesNotExist:
        return ClusterPatchSettings(cluster=cluster)


def raise_target_version(dbms_type: str, patch_type: str, version: str) -> None:
    """After a successful run: the fleet's target is at least what was just rolled out."""
    current = (
        TargetVersion.objects.select_for_update().filter(dbms_type=dbms_type, patch_type=patch_type).first()
    )
    if current is None:
        TargetVersion.objects.create(dbms_type=dbms_type, patch_type=patch_type, version=version)
    elif is_below(current.version, version):
        current.version = version
        current.updated_by = None
        current.save(update_fields=["version", "updated_by", "updated_at"])


def cancel_pending_steps(run: PatchRun, reason: str, clusters: Iterable[int] | None = None) -> int:
    """Pending steps (of the given run clusters, or all) become cancelled; call inside a transaction."""
    now = timezone.now()
    qs = run.steps.filter(status=StepStatus.PENDING)
    if clusters is not None:
        qs = qs.filter(run_cluster_id__in=list(clusters))
    steps = list(qs.select_related("cluster", "server"))
    qs.filter(pk__in=[s.pk for s in steps]).update(
        status=StepStatus.CANCELLED, outcome=StepOutcome.CANCELLED, reason=reason, finished_at=now
    )
    cluster_qs = run.clusters.filter(status__in=[ClusterRunStatus.PENDING, ClusterRunStatus.RUNNING])
    if clusters is not None:
        cluster_qs = cluster_qs.filter(pk__in=list(clusters))
    # A cluster with a server still in progress stays running until that server is done.
    cluster_qs.exclude(
        Exists(PatchStep.objects.filter(run_cluster=OuterRef("pk"), status__in=IN_FLIGHT_STEP_STATUSES))
    ).update(status=ClusterRunStatus.CANCELLED, active=False, reason=reason, finished_at=now)
    for step in steps:
        step.status = step.outcome = StepOutcome.CANCELLED
        step.reason = reason
        announce_step_finished(run, step)
    return len(steps)


def finish_run(run: PatchRun, status: str, reason: str = "") -> None:
    """Close a run (inside a transaction): release its clusters and announce it after commit."""
    now = timezone.now()
    run.status = status
    run.reason = reason or run.reason
    run.finished_at = now
    run.owner = ""
    run.save(update_fields=["status", "reason", "finished_at", "owner"])
    run.clusters.filter(status__in=[ClusterRunStatus.PENDING, ClusterRunStatus.RUNNING]).update(
        status=ClusterRunStatus.CANCELLED, reason=reason, finished_at=now
    )
    run.clusters.filter(active=True).update(active=False)
    if status == RunStatus.SUCCEEDED:
        raise_target_version(run.dbms_type, run.patch_type, run.patch_version)

    def announce() -> None:
        signals.run_finished.send(sender=PatchRun, run=PatchRun.objects.get(pk=run.pk))

    transaction.on_commit(announce)


def announce_step_finished(run: PatchRun, step: PatchStep) -> None:
    transaction.on_commit(lambda: signals.step_finished.send(sender=PatchRun, run=run, step=step))


def failure_count(run: PatchRun) -> int:
    """Failed servers that count against maxFailures (a retried failure no longer does)."""
    return run.steps.filter(outcome=StepOutcome.FAILED, retries__isnull=True).count()


def close_thread_connections() -> None:
    close_old_connections()
    connections.close_all()
