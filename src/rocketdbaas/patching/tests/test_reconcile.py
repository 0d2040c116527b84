"""The reconciler: which runs it takes back from gone workers, and what it leaves alone."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from rocketdbaas.patching import services, tasks
from rocketdbaas.patching.models import PatchRecipe, PatchRun, RunStatus
from rocketdbaas.patching.orchestrator import RunOrchestrator
from rocketdbaas.patching.tests.test_api import make_cluster

pytestmark = pytest.mark.django_db


def start(cluster):
    return services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql", patch_type="DB", patch_version="2", recipe="r", cluster=cluster
        )
    )


def test_stale_leases_and_lost_queue_entries_are_taken_back(settings, django_capture_on_commit_callbacks):
    settings.PATCH_LEASE_SECONDS = 60
    PatchRecipe.objects.create(name="r", dbms_type="postgresql", patch_type="DB", command="true")
    for name in ("c1", "c2", "c3", "c4", "c5"):
        make_cluster(name, app=name)
    dead, alive, lost, queued, paused = (start(c) for c in ("c1", "c2", "c3", "c4", "c5"))
    now = timezone.now()
    old = now - timedelta(seconds=61)
    PatchRun.objects.filter(pk=dead.pk).update(
        status="running", owner="w1:1", heartbeat_at=old, queued_at=old
    )
    PatchRun.objects.filter(pk=alive.pk).update(
        status="running", owner="w2:2", heartbeat_at=now, queued_at=old
    )
    PatchRun.objects.filter(pk=lost.pk).update(queued_at=old)
    PatchRun.objects.filter(pk=paused.pk).update(status="paused", queued_at=old)
    before = DBTaskResult.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        assert sorted(tasks.reconcile_runs(now)) == sorted([dead.pk, lost.pk])

    dead.refresh_from_db()
    assert (dead.status, dead.owner) == (RunStatus.INTERRUPTED, "") and dead.queued_at >= now
    assert PatchRun.objects.get(pk=alive.pk).owner == "w2:2"
    assert PatchRun.objects.get(pk=lost.pk).status == RunStatus.PENDING
    assert PatchRun.objects.get(pk=paused.pk).status == RunStatus.PAUSED
    assert PatchRun.objects.get(pk=queued.pk).queued_at == queued.queued_at  # queued moments ago: left alone
    assert DBTaskResult.objects.count() == before + 2
    # Queued again just now: the next pass leaves them to the queue.
    assert tasks.reconcile_runs(now + timedelta(seconds=5)) == []
    # A worker that lost its lease cannot take a run a live worker holds.
    assert RunOrchestrator(alive.pk, owner="w3:3").execute() is None
    assert PatchRun.objects.get(pk=alive.pk).attempts == 0
