"""Failure policy, cancel and pause mid-run, one cluster per application at a time.

The recipe keeps its "version" in a marker file per server (OS-style); cluster health and the
roles that decide the order come from a real PostgreSQL primary + replica.
"""

import pytest

from rocketdbaas.patching import services
from rocketdbaas.patching.models import (
    ClusterPatchSettings,
    PatchRun,
    PatchRunCluster,
    RunStatus,
    StepOutcome,
)
from rocketdbaas.patching.orchestrator import RunOrchestrator
from rocketdbaas.patching.tests.conftest import RunInThread, marker_recipe, ran, register_alias, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/postgresql/patchRuns"


def start(clusters, version="2.0", **kw):
    return services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql",
            patch_type="OS",
            patch_version=version,
            recipe="marker",
            clusters=clusters,
            **kw,
        )
    )


def outcomes(run):
    return {(s.server.name, s.outcome) for s in run.steps.select_related("server")}


def test_a_failure_halts_its_cluster_and_the_others_carry_on_within_max_failures(pg_pair, tmp_path):
    markers = tmp_path / "m"
    marker_recipe(markers)
    register_alias(pg_pair, "c1", "app1", env="dev")
    register_alias(pg_pair, "c2", "app2", env="uat", replica1={"fail": "1"})
    register_alias(pg_pair, "c3", "app3")
    run = start(["c1", "c2", "c3"], batches=[1, "100%"], max_failures=2)

    assert RunOrchestrator(run.pk).execute() == RunStatus.FAILED

    run.refresh_from_db()
    assert outcomes(run) == {
        ("c1-replica1", "succeeded"),
        ("c1-primary", "succeeded"),
        ("c2-replica1", "failed"),
        ("c2-primary", "cancelled"),
        ("c3-replica1", "succeeded"),
        ("c3-primary", "succeeded"),
    }
    failed = run.steps.get(server__name="c2-replica1")
    assert failed.exit_code == 3 and "command failed (exit code 3)" in failed.reason
    assert "disk full on c2-replica1" in failed.output
    halted = run.steps.get(server__name="c2-primary")
    assert halted.reason == "not started: the cluster halted after c2-replica1 failed"
    assert "c2-primary" not in ran(markers)
    assert dict(run.clusters.values_list("cluster__name", "status")) == {
        "c1": "succeeded",
        "c2": "failed",
        "c3": "succeeded",
    }
    assert run.reason == "1 server(s) failed"


def test_servers_already_at_the_target_in_another_spelling_are_skipped(pg_pair, tmp_path):
    markers = tmp_path / "m"
    marker_recipe(markers)
    register_alias(pg_pair, "c1", "app1")
    (markers / "c1-replica1").write_text("RHEL 9.4\n")
    (markers / "c1-primary").write_text("rhel-9.4\n")

    dry = start(["c1"], version="9.4", dry_run=True)
    assert {s.reason for s in dry.steps.all()} == {
        "dry run: already at RHEL 9.4, would be skipped",
        "dry run: already at rhel-9.4, would be skipped",
    }
    run = start(["c1"], version="9.4")
    assert RunOrchestrator(run.pk).execute() == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert outcomes(run) == {("c1-replica1", "skipped"), ("c1-primary", "skipped")}
    assert ran(markers) == []


def test_max_failures_stops_the_run_after_the_canary(pg_pair, tmp_path):
    markers = tmp_path / "m"
    marker_recipe(markers)
    register_alias(pg_pair, "k1", "app1", env="dev", replica1={"fail": "1"})
    register_alias(pg_pair, "k2", "app2")
    register_alias(pg_pair, "k3", "app3")
    run = start(["k1", "k2", "k3"], batches=[1, "100%"], max_failures=1)

    assert RunOrchestrator(run.pk).execute() == RunStatus.FAILED

    run.refresh_from_db()
    assert ran(markers) == ["k1-replica1"]
    assert run.steps.filter(outcome=StepOutcome.CANCELLED).count() == 5
    assert "stopped after 1 failed server(s) (maxFailures 1)" in run.reason
    assert set(run.steps.exclude(server__name__startswith="k1").values_list("reason", flat=True)) == {
        "not started: stopped after 1 failed server(s) (maxFailures 1)"
    }
    assert not PatchRunCluster.objects.filter(active=True).exists()

    # retryFailed runs the failed server and everything left behind, once the cause is fixed.
    ps = ClusterPatchSettings.objects.get(cluster__name="k1")
    ps.server_variables["k1-replica1"]["fail"] = "0"
    ps.save()
    services.retry_failed("postgresql", run.pk)
    assert RunOrchestrator(run.pk).execute() == RunStatus.SUCCEEDED
    assert sorted(ran(markers)) == sorted(
        ["k1-replica1", "k1-replica1", "k1-primary", "k2-replica1", "k2-primary", "k3-replica1", "k3-primary"]
    )
    assert run.steps.filter(retry_of__isnull=False, outcome=StepOutcome.SUCCEEDED).count() == 6


def test_cancel_mid_run_finishes_the_server_in_progress_and_starts_no_other(pg_pair, tmp_path, dba_api):
    markers = tmp_path / "m"
    marker_recipe(markers)
    register_alias(pg_pair, "x1", "app1")
    ClusterPatchSettings.objects.filter(cluster__name="x1").update(variables={"gate": str(tmp_path / "go")})
    run = start(["x1"])
    worker = RunInThread(run.pk)
    wait_for(lambda: run.steps.filter(status="patching").exists(), what="the first server patching")

    cancelled = dba_api.post(f"{URL}/{run.pk}/cancel").json()
    assert cancelled["status"] == "running" and cancelled["cancelRequested"]
    assert [s["status"] for s in cancelled["steps"]] == ["patching", "cancelled"]
    (tmp_path / "go").touch()
    assert worker.join() == RunStatus.CANCELLED

    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.finished_at
    assert outcomes(run) == {("x1-replica1", "succeeded"), ("x1-primary", "cancelled")}
    assert ran(markers) == ["x1-replica1"]
    assert not PatchRunCluster.objects.filter(active=True).exists()


def test_pause_mid_run_then_resume_patches_each_server_once(pg_pair, tmp_path, dba_api):
    markers = tmp_path / "m"
    marker_recipe(markers)
    register_alias(pg_pair, "p1", "app1")
    ClusterPatchSettings.objects.filter(cluster__name="p1").update(variables={"gate": str(tmp_path / "go")})
    run = start(["p1"], version="3.0")
    worker = RunInThread(run.pk)
    wait_for(lambda: run.steps.filter(status="patching").exists(), what="the first server patching")

    assert dba_api.post(f"{URL}/{run.pk}/pause").json()["pauseRequested"] is True
    (tmp_path / "go").touch()
    assert worker.join() == RunStatus.PAUSED
    paused = dba_api.get(f"{URL}/{run.pk}").json()
    assert paused["status"] == "paused" and paused["owner"] == ""
    assert [s["status"] for s in paused["steps"]] == ["succeeded", "pending"]
    # Still this run's cluster while paused: nobody else may start patching it.
    assert (
        dba_api.post(
            URL, json={"cluster": "p1", "patchType": "OS", "patchVersion": "9", "recipe": "marker"}
        ).status_code
        == 409
    )

    assert dba_api.post(f"{URL}/{run.pk}/resume").json()["status"] == "running"
    assert RunOrchestrator(run.pk).execute() == RunStatus.SUCCEEDED
    assert ran(markers) == ["p1-replica1", "p1-primary"]
    assert set(PatchRun.objects.get(pk=run.pk).steps.values_list("attempts", flat=True)) == {1}


def test_one_cluster_per_application_at_a_time(pg_pair, tmp_path):
    markers = tmp_path / "m"
    marker_recipe(markers)
    register_alias(pg_pair, "a1", "shared")
    register_alias(pg_pair, "a2", "shared")
    register_alias(pg_pair, "b1", "other")
    ClusterPatchSettings.objects.filter(cluster__name="a1").update(variables={"gate": str(tmp_path / "go")})
    run = start(["a1", "a2", "b1"], batches=["100%"])
    worker = RunInThread(run.pk)

    # b1 (another application) is patched completely while a1 is held; a2 waits for a1.
    wait_for(
        lambda: run.steps.filter(cluster__name="b1", outcome="succeeded").count() == 2,
        what="the other application's cluster",
    )
    assert run.steps.filter(cluster__name="a1", status="patching").exists()
    assert not run.steps.filter(cluster__name="a2").exclude(status="pending").exists()
    (tmp_path / "go").touch()
    assert worker.join() == RunStatus.SUCCEEDED

    a1_done = max(run.steps.filter(cluster__name="a1").values_list("finished_at", flat=True))
    a2_start = min(run.steps.filter(cluster__name="a2").values_list("started_at", flat=True))
    assert a1_done <= a2_start
