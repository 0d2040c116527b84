import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from rocketdbaas.core import scheduler
from rocketdbaas.core.models import PeriodicJobState


class CountingTask:
    """Stands in for a django-tasks Task: the scheduler's only contract with it is enqueue()."""

    def __init__(self):
        self.enqueued = 0
        self.lock = threading.Lock()

    def enqueue(self):
        with self.lock:
            self.enqueued += 1
            return SimpleNamespace(id=f"result-{self.enqueued}")


@pytest.fixture
def job(monkeypatch):
    task = CountingTask()
    monkeypatch.setattr(scheduler, "PERIODIC_JOBS", {})
    scheduler.periodic(every=timedelta(minutes=10), name="test.job")(task)
    return task


@pytest.mark.django_db
def test_due_job_is_enqueued_once_per_interval(job):
    t0 = timezone.now()
    assert scheduler.run_due_jobs(t0) == ["test.job"]  # new jobs run on the first tick
    assert scheduler.run_due_jobs(t0 + timedelta(minutes=9)) == []
    assert scheduler.run_due_jobs(t0 + timedelta(minutes=10)) == ["test.job"]
    assert job.enqueued == 2
    state = PeriodicJobState.objects.get(name="test.job")
    assert state.next_run_at == t0 + timedelta(minutes=20)
    assert state.last_result_id == "result-2"


@pytest.mark.django_db(transaction=True)
def test_many_workers_enqueue_a_due_job_once(job):
    now = timezone.now()
    scheduler.run_due_jobs(now - timedelta(hours=1))  # create the row; next run is due by `now`
    barrier = threading.Barrier(8)
    errors = []

    def worker():
        from django.db import connection

        try:
            barrier.wait()
            scheduler.run_due_jobs(now)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert job.enqueued == 2  # the first call, then exactly one of the eight


@pytest.mark.django_db(transaction=True)
def test_scheduler_loop_stops_when_told(job):
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_scheduler, args=(stop, 0.05))
    thread.start()
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def test_inventory_lease_sweep_is_registered():
    import rocketdbaas.inventory.tasks  # noqa: F401 - registering is the import's effect

    assert "rocketdbaas.inventory.tasks.release_expired_pool_leases" in scheduler.PERIODIC_JOBS
