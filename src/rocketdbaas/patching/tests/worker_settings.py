"""Settings for the worker processes the patching tests start: short leases and intervals, so a
killed worker's run is taken over within seconds."""

from rocketdbaas.settings import *  # noqa: F403

PATCH_LEASE_SECONDS = 2
PATCH_RECONCILE_SECONDS = 1
PATCH_POLL_SECONDS = 0.05
PATCH_VERIFY_POLL_SECONDS = 0.1
PATCH_OUTPUT_FLUSH_SECONDS = 0
