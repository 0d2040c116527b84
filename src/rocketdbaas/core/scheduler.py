"""Periodic jobs: tasks that the worker enqueues on a fixed interval.

Apps register a task in their `tasks.py`:

    @periodic(every=timedelta(hours=1))
    @task()
    def collect_fleet(): ...

Every worker process runs the scheduler loop; a row per job in the database (locked while
checked) makes sure only one worker enqueues each due run, however many workers there are.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Any  # a django_tasks Task
    every: timedelta


PERIODIC_JOBS: dict[str, PeriodicJob] = {}


def periodic(every: timedelta, name: str | None = None):
    def register(task_obj):
        job_name = name or task_obj.module_path
        PERIODIC_JOBS[job_name] = PeriodicJob(job_name, task_obj, every)
        return task_obj

    return register
