"""Rolling patch runs against a real PostgreSQL primary + streaming replica (local executor)."""

import pytest

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.inventory.models import Server
from rocketdbaas.patching import services
from rocketdbaas.patching.models import PatchRun, RunStatus, StepOutcome, TargetVersion
from rocketdbaas.patching.orchestrator import RunOrchestrator
from rocketdbaas.patching.tests.conftest import (
    patch_level,
    patch_level_recipe,
    register_pg_cluster,
    started_at,
)

pytestmark = pytest.mark.django_db(transaction=True)


def request(cluster, version, **kw):
    return services.RunRequest(
        dbms_type="postgresql",
        patch_type="DB",
        patch_version=version,
        recipe="patch-level",
        cluster=cluster,
        **kw,
    )


def test_replica_then_primary_each_verified_and_recorded(pg_pair, admin_user, patch_signals):
    cluster, _ = register_pg_cluster(pg_pair, "pg-rolling")
    patch_level_recipe()
    before = {inst.name: started_at(inst) for inst in pg_pair.members}

    run = services.start_patch_run(request(cluster.name, "15.20-p1"), admin_user)
    assert run.status == RunStatus.PENDING
    assert RunOrchestrator(run.pk).execute() == RunStatus.SUCCEEDED

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.started_at and run.finished_at and run.owner == ""
    steps = list(run.steps.select_related("server").order_by("started_at"))
    primary_name, replica_name = "pg-rolling-primary", "pg-rolling-replica1"
    # The inventory claimed the opposite roles; the live servers decided the order.
    assert [s.server.name for s in steps] == [replica_name, primary_name]
    replica_step, primary_step = steps
    assert replica_step.finished_at <= primary_step.started_at
    for step, role in ((replica_step, "replica"), (primary_step, "primary")):
        assert step.outcome == StepOutcome.SUCCEEDED and step.status == "succeeded"
        assert step.exit_code == 0 and step.attempts == 1
        assert step.version_before == "none" and step.version_after == "15.20-p1"
        assert step.role_before == role and step.role_after == role and step.expected_role == role
        assert f"patching {step.server.name}" in step.output
        assert f"restarted {step.server.name}" in step.output
        assert "verifying" in step.output
        checks = {c["check"]: c["ok"] for c in step.checks}
        assert checks == {"reachable": True, "version": True, "cluster healthy": True, "post-checks": True}
    # The primary was only touched after the replica came back healthy at the target.
    assert "in place" in primary_step.output

    # Both servers really restarted and run the new patch level; the cluster serves queries.
    for inst in pg_pair.members:
        assert started_at(inst) > before[inst.name]
        assert patch_level(inst) == "15.20-p1"
    pg_pair.primary.query("CREATE TABLE IF NOT EXISTS after_patch (v int)")
    pg_pair.primary.query("INSERT INTO after_patch VALUES (1)")
    pg_pair.wait_replicas_streaming()

    # Ledger side effects: a Patch activity per server, inventory corrected from the live servers.
    activities = Activity.objects.filter(type=ActivityType.PATCH, server__isnull=False, cluster=cluster)
    assert sorted(a.server.name for a in activities) == [primary_name, replica_name]
    assert all(a.planned and a.details["outcome"] == "succeeded" for a in activities)
    roles = dict(Server.objects.filter(cluster=cluster).values_list("name", "role"))
    assert roles == {primary_name: "primary", replica_name: "replica"}
    assert set(Server.objects.filter(cluster=cluster).values_list("db_version", flat=True)) == {"15.20-p1"}
    assert TargetVersion.objects.get(dbms_type="postgresql", patch_type="DB").version == "15.20-p1"
    assert patch_signals.names() == ["run_started", "step_finished", "step_finished", "run_finished"]

    # A second run to the same version touches nothing: both servers are skipped.
    again = services.start_patch_run(request(cluster.name, "15.20-p1"), admin_user)
    RunOrchestrator(again.pk).execute()
    assert set(again.steps.values_list("outcome", flat=True)) == {StepOutcome.SKIPPED}
    assert PatchRun.objects.get(pk=again.pk).status == RunStatus.SUCCEEDED
    for inst in pg_pair.members:
        assert started_at(inst) > before[inst.name]


def test_dry_run_plans_from_live_roles_and_changes_nothing(pg_pair, dba_user):
    cluster, _ = register_pg_cluster(pg_pair, "pg-dry")
    patch_level_recipe()
    level = {inst.name: patch_level(inst) for inst in pg_pair.members}
    before = {inst.name: started_at(inst) for inst in pg_pair.members}

    run = services.start_patch_run(request(cluster.name, "99.1", dry_run=True), dba_user)

    assert run.dry_run and run.status == RunStatus.SUCCEEDED
    steps = list(run.steps.select_related("server").order_by("position"))
    assert [(s.server.name, s.role_before) for s in steps] == [
        ("pg-dry-replica1", "replica"),
        ("pg-dry-primary", "primary"),
    ]
    assert all(
        s.outcome == StepOutcome.SKIPPED and s.reason.startswith("dry run: would patch") for s in steps
    )
    assert all(s.version_before == level["primary"] for s in steps)
    assert all({c["check"] for c in s.checks} >= {"reachable", "version", "cluster healthy"} for s in steps)
    # Nothing changed on the servers, and the clusters are free for a real run.
    assert {inst.name: started_at(inst) for inst in pg_pair.members} == before
    assert {inst.name: patch_level(inst) for inst in pg_pair.members} == level
    assert not run.clusters.filter(active=True).exists()
    assert not Activity.objects.filter(type=ActivityType.PATCH, server__isnull=False).exists()
