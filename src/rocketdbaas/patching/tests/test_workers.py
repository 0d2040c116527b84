"""Runs executed by real worker processes: a worker killed with SIGKILL mid-run is replaced and
the run completes with nothing lost and nothing re-run unverified; and the RQ backend on Redis
runs a patch run too."""

import os

import pytest
from django.db import close_old_connections
from tests.support.services import require_service

from rocketdbaas.patching import services
from rocketdbaas.patching.models import ClusterPatchSettings, PatchRun, PatchStep, RunStatus, StepOutcome
from rocketdbaas.patching.tests.conftest import (
    patch_level,
    patch_level_recipe,
    register_pg_cluster,
    started_at,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Prints, records that it ran, holds, then applies the patch and restarts the server without
# printing: a worker killed during the hold leaves an orphaned command that still completes.
CRASH_COMMAND = (
    'echo "patching {server}"; echo {server} >> {ranlog}; sleep {hold}; '
    "{ printf \"rocketdbaas.patch_level = '%s'\\n\" {version} >> {datadir}/postgresql.conf && "
    "{as_postgres} {pg_ctl} -D {datadir} -l {logfile} -m fast -w -t 60 restart; } >/dev/null 2>&1; "
    'echo "restarted {server}"'
)


def fresh(model, pk):
    close_old_connections()
    return model.objects.get(pk=pk)


def test_a_killed_worker_is_replaced_and_the_run_completes_verified(pg_pair, tmp_path, workers):
    ranlog = tmp_path / "ran.log"
    cluster, _ = register_pg_cluster(pg_pair, "pg-crash")
    recipe = patch_level_recipe(command=CRASH_COMMAND)
    recipe.variables.update(ranlog=str(ranlog), hold="0")
    recipe.save()
    ps = ClusterPatchSettings.objects.get(cluster=cluster)
    ps.server_variables["pg-crash-replica1"]["hold"] = "4"
    ps.save()
    before = {inst.name: started_at(inst) for inst in pg_pair.members}
    first = workers.start("worker-a")

    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql",
            patch_type="DB",
            patch_version="15.20-crash",
            recipe="patch-level",
            cluster=cluster.name,
        )
    )
    replica_step = run.steps.get(server__name="pg-crash-replica1")
    wait_for(
        lambda: "patching pg-crash-replica1" in fresh(PatchStep, replica_step.pk).output,
        timeout=60,
        what=lambda: f"worker A to start patching the replica\n{first.output()}",
    )
    victim = fresh(PatchRun, run.pk).owner
    assert victim and fresh(PatchStep, replica_step.pk).status == "patching"
    first.kill()

    second = workers.start("worker-b")
    wait_for(
        lambda: fresh(PatchRun, run.pk).status in ("succeeded", "failed", "cancelled"),
        timeout=90,
        what=lambda: f"worker B to finish the run\n{second.output()}",
    )

    run = fresh(PatchRun, run.pk)
    assert run.status == RunStatus.SUCCEEDED, list(run.steps.values_list("reason", flat=True))
    assert run.attempts == 2 and run.owner == ""
    resumed = fresh(PatchStep, replica_step.pk)
    assert resumed.outcome == StepOutcome.SUCCEEDED and resumed.attempts == 2 and resumed.owner != victim
    assert resumed.reason == "verified after the worker was replaced (the command was not re-run)"
    assert "patching pg-crash-replica1" in resumed.output  # what was printed before the kill is kept
    assert f"worker {victim} stopped while this server was patching" in resumed.output
    assert resumed.version_after == "15.20-crash"
    primary_step = run.steps.get(server__name="pg-crash-primary")
    assert primary_step.outcome == StepOutcome.SUCCEEDED and primary_step.attempts == 1
    assert primary_step.started_at >= resumed.finished_at
    # Each server's command ran exactly once, and both servers really run the new patch level.
    assert sorted(ranlog.read_text().split()) == ["pg-crash-primary", "pg-crash-replica1"]
    for inst in pg_pair.members:
        assert patch_level(inst) == "15.20-crash" and started_at(inst) > before[inst.name]


def test_the_rq_backend_runs_a_patch_run(pg_pair, tmp_path, workers, settings):
    import redis

    # A Redis database of this test process's own, so other test runs' workers never take its jobs.
    url = f"redis://127.0.0.1:6379/{10 + os.getpid() % 6}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        reachable = True
    except redis.RedisError:
        reachable = False
    require_service(reachable, "Redis is not running on 127.0.0.1:6379")
    settings.TASKS_BACKEND = "rq"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}
    settings.RQ_QUEUES = {"default": {"URL": url, "DEFAULT_TIMEOUT": 600}}
    cluster, _ = register_pg_cluster(pg_pair, "pg-rq")
    patch_level_recipe()
    # No scheduler thread in this worker: RQ forks a work horse per job, and an SQLite connection
    # another thread holds at that moment must not cross the fork.
    rq_worker = workers.start("rq-worker", "--no-scheduler", TASKS_BACKEND="rq", REDIS_URL=url)

    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql",
            patch_type="DB",
            patch_version="15.20-rq",
            recipe="patch-level",
            cluster=cluster.name,
        )
    )
    wait_for(
        lambda: fresh(PatchRun, run.pk).status in ("succeeded", "failed", "cancelled"),
        timeout=90,
        what=lambda: f"the RQ worker to run the patch run\n{rq_worker.output()}",
    )
    run = fresh(PatchRun, run.pk)
    assert run.status == RunStatus.SUCCEEDED, list(run.steps.values_list("reason", flat=True))
    assert set(run.steps.values_list("outcome", flat=True)) == {StepOutcome.SUCCEEDED}
    assert {patch_level(inst) for inst in pg_pair.members} == {"15.20-rq"}
    assert "rq.worker" in rq_worker.output() and "execute_patch_run" in rq_worker.output()
