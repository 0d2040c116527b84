"""Demo patching data: recipes per type, target versions, cluster settings, and a short history
(one run that succeeded and one that failed on a post-check) so the pages and reports have
something to show. The history is recorded, not executed: the demo fleet's hosts do not exist."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from rocketdbaas.activities.models import ActivityType
from rocketdbaas.activities.services import record_activity
from rocketdbaas.inventory.models import Cluster
from rocketdbaas.patching.models import (
    ClusterPatchSettings,
    ClusterRunStatus,
    PatchRecipe,
    PatchRun,
    PatchRunCluster,
    PatchStep,
    RunStatus,
    StepOutcome,
    TargetVersion,
)

RECIPES: list[dict[str, Any]] = [
    {
        "name": "pg-minor-dnf",
        "dbms_type": "postgresql",
        "patch_type": "DB",
        "executor": "ssh",
        "pre_command": "sudo -n /usr/pgsql-16/bin/pg_isready -p {port}",
        "command": "sudo -n dnf -y update postgresql16-server-{version} && sudo -n systemctl restart postgresql-16",
        "description": "PostgreSQL 16 minor update from the PGDG repository, then a restart.",
        "timeout_seconds": 1800,
    },
    {
        "name": "rhel-os-update",
        "dbms_type": "postgresql",
        "patch_type": "OS",
        "executor": "ssh",
        "command": "sudo -n dnf -y upgrade --releasever={version} && sudo -n systemctl restart postgresql-16",
        "version_command": '. /etc/os-release && echo "RHEL $VERSION_ID"',
        "description": "RHEL minor release upgrade (the DB restarts; kernel reboots are scheduled separately).",
    },
    {
        "name": "mongo-minor-dnf",
        "dbms_type": "mongodb",
        "patch_type": "DB",
        "executor": "ssh",
        "command": "sudo -n dnf -y update mongodb-org-{version} && sudo -n systemctl restart mongod",
        "description": "MongoDB minor update; the primary steps down first (replSetStepDown).",
    },
]
TARGETS = [("postgresql", "DB", "16.4"), ("postgresql", "OS", "RHEL 9.4"), ("mongodb", "DB", "7.0.14")]


def load_demo(stdout) -> None:
    if PatchRecipe.objects.filter(name="pg-minor-dnf").exists():
        stdout.write("  patching: demo recipes already there")
        return
    with transaction.atomic():
        recipes = {r["name"]: PatchRecipe.objects.create(**r) for r in RECIPES}
        for dbms_type, patch_type, version in TARGETS:
            TargetVersion.objects.get_or_create(
                dbms_type=dbms_type, patch_type=patch_type, defaults={"version": version}
            )
        prod = Cluster.objects.filter(name="pg-payments-prod").first()
        if prod:
            ClusterPatchSettings.objects.get_or_create(
                cluster=prod,
                defaults={"primary_strategy": "switchover", "patroni_url": "http://{host}:8008"},
            )
        uat = Cluster.objects.filter(name="pg-payments-uat").first()
        orders = Cluster.objects.filter(name="pg-orders-prod").first()
        if uat:
            _history(recipes["pg-minor-dnf"], uat, "16.4", days_ago=12, fail=False)
        if orders:
            _history(recipes["pg-minor-dnf"], orders, "15.9", days_ago=3, fail=True)
    stdout.write(f"  patching: {len(RECIPES)} recipes, {len(TARGETS)} target versions, 2 past runs")


def _history(recipe: PatchRecipe, cluster: Cluster, version: str, *, days_ago: int, fail: bool) -> None:
    start = timezone.now() - timedelta(days=days_ago, hours=2)
    servers = sorted(cluster.servers.all(), key=lambda s: (s.role == "primary", s.name))
    run = PatchRun.objects.create(
        dbms_type=cluster.dbms_type,
        patch_type="DB",
        patch_version=version,
        recipe=recipe,
        status=RunStatus.FAILED if fail else RunStatus.SUCCEEDED,
        target={"cluster": cluster.name},
        batches=[1],
        max_failures=1,
        reason="1 server(s) failed" if fail else "",
        started_at=start,
        finished_at=start + timedelta(minutes=9),
    )
    PatchRun.objects.filter(pk=run.pk).update(created_at=start)
    rc = PatchRunCluster.objects.create(
        run=run,
        cluster=cluster,
        batch=1,
        position=1,
        active=False,
        status=ClusterRunStatus.FAILED if fail else ClusterRunStatus.SUCCEEDED,
        reason=f"halted: {servers[0].name} failed" if fail else "",
        started_at=start,
        finished_at=start + timedelta(minutes=9),
    )
    for i, server in enumerate(servers):
        began = start + timedelta(minutes=4 * i)
        failed_here = fail and i == 0
        cancelled = fail and i > 0
        outcome = (
            StepOutcome.FAILED
            if failed_here
            else StepOutcome.CANCELLED
            if cancelled
            else StepOutcome.SUCCEEDED
        )
        before = server.db_version
        step = PatchStep.objects.create(
            run=run,
            run_cluster=rc,
            cluster=cluster,
            server=server,
            batch=1,
            position=i + 1,
            status=outcome,
            outcome=outcome,
            reason=(
                f"post-check failed after 300s: {server.name} is at {before}, expected {version}"
                if failed_here
                else "not started: the cluster halted after " + servers[0].name + " failed"
                if cancelled
                else ""
            ),
            exit_code=None if cancelled else 0,
            version_before=before,
            version_after="" if cancelled else (before if failed_here else version),
            role_before=server.role,
            role_after="" if cancelled else server.role,
            expected_role=server.role,
            attempts=0 if cancelled else 1,
            output=""
            if cancelled
            else (
                f"==> pre-checks on {server.name} (cluster {cluster.name})\n"
                f"==> command: sudo -n dnf -y update postgresql16-server-{version} && sudo -n systemctl restart postgresql-16\n"
                + (
                    "No match for argument: postgresql16-server-15.9\nNothing to do.\n"
                    if failed_here
                    else "Complete!\n"
                )
                + f"==> verifying: back, {server.role}, healthy, at {version}\n"
                + ("==> failed\n" if failed_here else "==> succeeded\n")
            ),
            started_at=None if cancelled else began,
            finished_at=began + timedelta(minutes=4),
        )
        if not cancelled:
            record_activity(
                dbms_type=cluster.dbms_type,
                type=ActivityType.PATCH,
                summary=f"DB patch {version} on {server.name}: {outcome}",
                cluster=cluster,
                server=server,
                planned=True,
                occurred_at=step.finished_at,
                details={
                    "run": run.pk,
                    "step": step.pk,
                    "patchType": "DB",
                    "patchVersion": version,
                    "outcome": outcome,
                },
            )
