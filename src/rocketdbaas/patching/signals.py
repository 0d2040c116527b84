"""Patch run events, for notifications and anything else that wants to follow runs.

Every signal is sent with sender=PatchRun after the change is committed. Dry runs touch no
server and send none.
"""

from django.dispatch import Signal

run_started = Signal()  # run
step_finished = Signal()  # run, step (step.outcome tells succeeded/failed/skipped/cancelled)
run_finished = Signal()  # run (run.status is its final state: succeeded, failed or cancelled)
