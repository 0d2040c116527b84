"""Executes a patch run on a worker.

One worker at a time owns a run: it claims the run row (owner + heartbeat_at), and a heartbeat
thread keeps that lease, and the lease of every step it works on, fresh. If the worker dies the
lease runs out; the reconciler marks the run interrupted and queues it again, and whichever
worker claims it continues from the database's state:

- a step that was pre-checking or switching over starts again from its pre-checks (nothing had
  been run on the server, or the live roles tell whether the switchover happened);
- a step that was patching or verifying is *verified*, never re-run: if the server comes back
  healthy at the target version it succeeded, otherwise it fails and says so;
- pending servers get their pre-checks as usual, which skip those already at the target.

Inside a cluster one server at a time is touched, replicas/secondaries first and the primary last
(ordered by the roles the live servers report), and a server is only touched when every member
is up and healthy: never more than one server of a cluster is down. Clusters of a batch run in
parallel threads, at most one cluster per application at a time (across all runs).
"""

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from rocketdbaas.activities.models import ActivityType
from rocketdbaas.activities.services import record_activity
from rocketdbaas.core.config import config
from rocketdbaas.dbms import connection_target, get_module
from rocketdbaas.dbms.base import ClusterHealth, HealthLimits, ServerState, patch_order
from rocketdbaas.dbms.versions import is_at
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.inventory.servers import record_patched_facts
from rocketdbaas.patching import run_state, signals
from rocketdbaas.patching.executors import ExecResult, Executor, RemoteHost, build_executor, ssh_user
from rocketdbaas.patching.models import (
    CLAIMABLE_RUN_STATUSES,
    FINAL_CLUSTER_STATUSES,
    IN_FLIGHT_STEP_STATUSES,
    ClusterPatchSettings,
    ClusterRunStatus,
    PatchRecipe,
    PatchRun,
    PatchRunCluster,
    PatchStep,
    PatchType,
    PrimaryStrategy,
    RunStatus,
    StepOutcome,
    StepStatus,
)
from rocketdbaas.telemetry.credentials import credentials_for

logger = logging.getLogger(__name__)

FINAL_STEP_STATUSES = (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED)

_WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def worker_identity() -> str:
    return _WORKER_ID


# ---------------------------------------------------------------- helpers shared with dry runs


def health_limits(patch_settings: ClusterPatchSettings) -> HealthLimits:
    return HealthLimits(
        max_lag_bytes=patch_settings.max_lag_bytes, max_lag_seconds=patch_settings.max_lag_seconds
    )


def remote_host(recipe: PatchRecipe, values: dict[str, Any], server: Server) -> RemoteHost:
    return RemoteHost(
        name=server.name,
        address=server.address,
        ssh_port=int(values.get("ssh_port") or 22),
        ssh_user=ssh_user(recipe.ssh_user),
        variables=values,
    )


def read_version(recipe: PatchRecipe, executor: Executor, state: ServerState) -> tuple[str, str]:
    """(version, error): the recipe's version command's last output line, or for DB recipes
    without one, the version the database reports."""
    if recipe.version_command.strip():
        command = run_state.render(recipe.version_command, executor.host.variables)
        result = executor.run_shell(
            command, timeout=min(recipe.timeout_seconds, config.PATCH_VERSION_TIMEOUT)
        )
        lines = [line.strip() for line in result.output.splitlines() if line.strip()]
        if not result.ok:
            detail = f": {lines[-1][:200]}" if lines else ""
            return "", f"version command failed ({result.describe()}){detail}"
        if not lines:
            return "", "version command printed nothing"
        return lines[-1][:100], ""
    if recipe.patch_type == PatchType.DB:
        return (state.version, "") if state.version else ("", "the database did not report its version")
    return "", "OS recipes need a version command"


class Lost(Exception):
    """Another worker took the run over (this one's lease ran out): stop touching it."""


class StepFailed(Exception):
    def __init__(self, reason: str, exit_code: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


# ---------------------------------------------------------------- output


class StepOutput:
    """A step's output as it arrives, written to the step row at most every flush interval.

    Past the cap it keeps the head and the tail, with a marker saying how much was left out.
    """

    def __init__(self, step_id: int, existing: str = ""):
        self.step_id = step_id
        self.head_cap = config.PATCH_OUTPUT_HEAD_CHARS
        self.tail_cap = config.PATCH_OUTPUT_TAIL_CHARS
        self.interval = config.PATCH_OUTPUT_FLUSH_SECONDS
        self.head = ""
        self.tail = ""
        self.omitted = 0
        # The step row is written at each state change anyway; flushes in between are for long commands.
        self._flushed_at = time.monotonic()
        self.unflushed = False
        if existing:
            self._add(existing)
            self.unflushed = False

    def _add(self, text: str) -> None:
        self.unflushed = True
        if not self.tail and not self.omitted:
            room = self.head_cap - len(self.head)
            self.head += text[:room]
            text = text[room:]
        if text:
            self.tail += text
            if len(self.tail) > self.tail_cap:
                self.omitted += len(self.tail) - self.tail_cap
                self.tail = self.tail[-self.tail_cap :]

    @property
    def truncated(self) -> bool:
        return self.omitted > 0

    def render(self) -> str:
        if not self.omitted:
            return self.head + self.tail
        return f"{self.head}\n[… {self.omitted} characters of output left out …]\n{self.tail}"

    def write(self, text: str) -> None:
        self._add(text)
        if time.monotonic() - self._flushed_at >= self.interval:
            self.flush()

    def note(self, text: str) -> None:
        """A line from RocketDBaaS itself, set apart from the commands' output."""
        stamp = timezone.now().strftime("%H:%M:%S")
        prefix = "" if not (self.head or self.tail) or (self.tail or self.head).endswith("\n") else "\n"
        self._add(f"{prefix}==> {stamp} {text}\n")
        if time.monotonic() - self._flushed_at >= self.interval:
            self.flush()

    def flush(self) -> None:
        PatchStep.objects.filter(pk=self.step_id).update(**self.fields())

    def fields(self) -> dict[str, Any]:
        """The output as step fields, for a write that goes to the step row anyway."""
        self._flushed_at = time.monotonic()
        self.unflushed = False
        return {"output": self.render(), "output_truncated": self.truncated}


# ---------------------------------------------------------------- lease


class Heartbeat(threading.Thread):
    """Keeps the run's lease, and its in-flight steps' leases, fresh while the worker lives."""

    def __init__(self, orchestrator: "RunOrchestrator"):
        super().__init__(name=f"patch-heartbeat-{orchestrator.run_id}", daemon=True)
        self.orchestrator = orchestrator
        self.stopped = threading.Event()
        self.interval = max(0.2, run_state.lease_seconds() / 3)

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                self.beat()
        finally:
            run_state.close_thread_connections()

    def beat(self) -> None:
        o = self.orchestrator
        now = timezone.now()
        try:
            if not PatchRun.objects.filter(pk=o.run_id, owner=o.owner).update(heartbeat_at=now):
                logger.warning("Patch run %s: lease lost to another worker", o.run_id)
                o.lost.set()
                return
            PatchStep.objects.filter(
                run_id=o.run_id, owner=o.owner, status__in=IN_FLIGHT_STEP_STATUSES
            ).update(heartbeat_at=now)
        except Exception:
            # A database hiccup: the next beat retries; the lease is several beats long.
            logger.exception("Patch run %s: heartbeat failed", o.run_id)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


# ---------------------------------------------------------------- the run


class RunOrchestrator:
    def __init__(self, run_id: int, owner: str | None = None):
        self.run_id = run_id
        self.owner = owner or worker_identity()
        self.lost = threading.Event()
        self.max_parallel = max(1, config.PATCH_MAX_PARALLEL_CLUSTERS)
        self.poll = config.PATCH_POLL_SECONDS

    def execute(self) -> str | None:
        """Run (or resume) the run; returns its status when this worker is done with it, or
        None when it was not this worker's to run."""
        run = self._claim()
        if run is None:
            return None
        heartbeat = Heartbeat(self)
        heartbeat.start()
        try:
            return self._execute(run)
        except Lost:
            logger.warning("Patch run %s: another worker took it over; %s stops", self.run_id, self.owner)
            return None
        finally:
            heartbeat.stop()
            PatchRun.objects.filter(pk=self.run_id, owner=self.owner).update(owner="")

    def _claim(self) -> PatchRun | None:
        now = timezone.now()
        stale = now - timedelta(seconds=run_state.lease_seconds())
        claimed = (
            PatchRun.objects.filter(pk=self.run_id, dry_run=False, status__in=CLAIMABLE_RUN_STATUSES)
            .filter(Q(owner="") | Q(owner=self.owner) | Q(heartbeat_at__lt=stale))
            .update(owner=self.owner, heartbeat_at=now, attempts=F("attempts") + 1)
        )
        if not claimed:
            return None
        run = PatchRun.objects.select_related("recipe").get(pk=self.run_id)
        if run.attempts > 1:
            logger.info("Patch run %s taken over by %s (attempt %s)", run.pk, self.owner, run.attempts)
        return run

    def _execute(self, run: PatchRun) -> str | None:
        max_attempts = config.PATCH_MAX_RUN_ATTEMPTS
        if run.attempts > max_attempts:
            return self._give_up(run, f"gave up after {max_attempts} workers in a row lost the run")
        if run.started_at is None:
            PatchRun.objects.filter(pk=run.pk).update(status=RunStatus.PRECHECKING)
            problems = self._preflight(run)
            if problems:
                with transaction.atomic():
                    run = PatchRun.objects.select_for_update().get(pk=run.pk)
                    reason = "pre-flight failed: " + "; ".join(problems)
                    run_state.cancel_pending_steps(run, f"not started: {reason}")
                    run_state.finish_run(run, RunStatus.FAILED, reason)
                return RunStatus.FAILED
            with transaction.atomic():
                PatchRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
                transaction.on_commit(
                    lambda: signals.run_started.send(sender=PatchRun, run=PatchRun.objects.get(pk=run.pk))
                )
        else:
            PatchRun.objects.filter(pk=run.pk, owner=self.owner).update(status=RunStatus.RUNNING)
        batches = sorted(set(PatchRunCluster.objects.filter(run_id=run.pk).values_list("batch", flat=True)))
        for batch in batches:
            if self._run_batch(batch):
                break
        return self._conclude()

    def _preflight(self, run: PatchRun) -> list[str]:
        """What would make every server fail: checked once before anything is touched."""
        recipe = run.recipe
        probe = build_executor(recipe.executor, RemoteHost(name="preflight", address="", variables={}))
        problems = probe.preflight()
        if recipe.executor == "ansible":
            from rocketdbaas.patching.executors.ansible import AnsibleExecutor

            assert isinstance(probe, AnsibleExecutor)
            problems += probe.check_playbook(recipe.command)
        return problems

    def _give_up(self, run: PatchRun, reason: str) -> str:
        with transaction.atomic():
            run = PatchRun.objects.select_for_update().get(pk=run.pk)
            now = timezone.now()
            for step in run.steps.filter(status__in=IN_FLIGHT_STEP_STATUSES).select_related("server"):
                PatchStep.objects.filter(pk=step.pk).update(
                    status=StepStatus.FAILED,
                    outcome=StepOutcome.FAILED,
                    reason=f"{reason}; check {step.server.name} by hand",
                    finished_at=now,
                )
            run_state.cancel_pending_steps(run, f"not started: {reason}")
            run_state.finish_run(run, RunStatus.FAILED, reason)
        return RunStatus.FAILED

    # ------------------------------------------------------------ control

    def stop_reason(self) -> str | None:
        """Why no new server may be started now (None: carry on)."""
        if self.lost.is_set():
            return "lost"
        run = PatchRun.objects.only(
            "owner", "pause_requested_at", "cancel_requested_at", "max_failures", "status"
        ).get(pk=self.run_id)
        if run.owner != self.owner:
            self.lost.set()
            return "lost"
        if run.cancel_requested_at:
            return "cancel"
        if run.pause_requested_at:
            return "pause"
        if run_state.failure_count(run) >= run.max_failures:
            return "max_failures"
        return None

    def _run_batch(self, batch: int) -> str | None:
        """Patch the batch's clusters in parallel; returns why the run must stop, if it must."""
        pending = list(
            PatchRunCluster.objects.filter(run_id=self.run_id, batch=batch)
            .exclude(status__in=FINAL_CLUSTER_STATUSES)
            .select_related("cluster")
            .order_by("position")
        )
        if not pending:
            return self.stop_reason()
        running: dict[Future, PatchRunCluster] = {}
        workers = min(len(pending), self.max_parallel)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"patch-run-{self.run_id}") as pool:
            while pending or running:
                stop = self.stop_reason()
                if stop is None:
                    for rc in list(pending):
                        if len(running) >= self.max_parallel:
                            break
                        if self._claim_cluster(rc):
                            pending.remove(rc)
                            running[pool.submit(self._patch_cluster, rc.pk)] = rc
                elif not running:
                    return stop
                if running:
                    done, _ = wait(running, timeout=self.poll, return_when=FIRST_COMPLETED)
                    for future in done:
                        running.pop(future)
                        future.result()
                elif pending:
                    # Every cluster left waits for its application to be free (another cluster is patching).
                    time.sleep(self.poll)
        return self.stop_reason()

    def _claim_cluster(self, rc: PatchRunCluster) -> bool:
        """Start a cluster unless another cluster of its application is being patched (by any run)."""
        with transaction.atomic():
            # The application row serialises the check-then-start between workers.
            Application.objects.select_for_update().filter(pk=rc.cluster.application_id).first()
            busy = (
                PatchRunCluster.objects.filter(
                    status=ClusterRunStatus.RUNNING, cluster__application_id=rc.cluster.application_id
                )
                .exclude(pk=rc.pk)
                .exists()
            )
            if busy:
                return False
            PatchRunCluster.objects.filter(pk=rc.pk).update(status=ClusterRunStatus.RUNNING)
            PatchRunCluster.objects.filter(pk=rc.pk, started_at__isnull=True).update(
                started_at=timezone.now()
            )
        return True

    def _patch_cluster(self, rc_id: int) -> None:
        try:
            ClusterPatcher(self, rc_id).run()
        finally:
            run_state.close_thread_connections()

    def _conclude(self) -> str | None:
        with transaction.atomic():
            run = PatchRun.objects.select_for_update().get(pk=self.run_id)
            if run.owner != self.owner:
                return None
            pending = run.steps.filter(status=StepStatus.PENDING).exists()
            failures = run_state.failure_count(run)
            if run.cancel_requested_at:
                run_state.cancel_pending_steps(run, "cancelled")
                run_state.finish_run(run, RunStatus.CANCELLED, run.reason or "cancelled")
            elif pending and failures >= run.max_failures:
                reason = f"stopped after {failures} failed server(s) (maxFailures {run.max_failures})"
                run_state.cancel_pending_steps(run, f"not started: {reason}")
                run_state.finish_run(run, RunStatus.FAILED, reason)
            elif pending and run.pause_requested_at:
                PatchRun.objects.filter(pk=run.pk).update(status=RunStatus.PAUSED, owner="")
                return RunStatus.PAUSED
            elif pending:
                return None  # lost the lease mid-way; the next owner carries on
            else:
                failed = f"{failures} server(s) failed" if failures else ""
                run_state.finish_run(run, RunStatus.FAILED if failures else RunStatus.SUCCEEDED, failed)
            return run.status


# ---------------------------------------------------------------- one cluster


class ClusterPatcher:
    """Patches one cluster's servers one at a time, primary last; halts at the first failure."""

    def __init__(self, orchestrator: RunOrchestrator, rc_id: int):
        self.orchestrator = orchestrator
        self.rc = PatchRunCluster.objects.select_related("cluster", "run__recipe", "run").get(pk=rc_id)
        self.patch_run = self.rc.run
        self.recipe = self.patch_run.recipe
        self.cluster: Cluster = self.rc.cluster
        self.module = get_module(self.cluster.dbms_type)
        self.patch_settings = run_state.patch_settings_for(self.cluster)
        # Health looks at every member of the cluster, not only the servers in this run.
        members = {
            s.pk: s
            for s in Server.objects.filter(cluster=self.cluster, status=PoolStatus.USED).select_related(
                "cluster"
            )
        }
        for step in self.rc.steps.select_related("server__cluster"):
            members.setdefault(step.server_id, step.server)
        self.members = sorted(members.values(), key=lambda s: s.name)
        self.targets = {s.name: connection_target(s, credentials_for(s)) for s in self.members}
        self.limits = health_limits(self.patch_settings)

    def health(self) -> ClusterHealth:
        return self.module.check_cluster_health(
            [(s.name, self.targets[s.name]) for s in self.members], self.limits
        )

    def values_for(self, server: Server) -> dict[str, Any]:
        return run_state.server_variables(
            self.recipe, self.patch_settings, server, self.patch_run.patch_version
        )

    def executor_for(self, server: Server) -> Executor:
        return build_executor(self.recipe.executor, remote_host(self.recipe, self.values_for(server), server))

    def run(self) -> None:
        while True:
            # Output is left out here: only a step taken over after a crash reads what it had.
            every = list(self.rc.steps.select_related("server__cluster").defer("output").order_by("pk"))
            steps = [s for s in every if s.status not in FINAL_STEP_STATUSES]
            if not steps:
                self._close()
                return
            health = self.health()
            step = next((s for s in steps if s.is_in_flight), None) or self._next_pending(
                steps, health, done=len(every) - len(steps)
            )
            outcome = StepRunner(self, step, health).run()
            if outcome is None:
                return
            if outcome == StepOutcome.FAILED:
                self._halt(step)
                return

    def _next_pending(self, steps: list[PatchStep], health: ClusterHealth, done: int) -> PatchStep:
        """The live roles decide: replicas/secondaries first, the primary last."""
        roles = {s.server.name: (health.states.get(s.server.name) or ServerState(False)).role for s in steps}
        order = patch_order(self.module, roles, health.primary if health.primary in roles else None)
        changed = []
        for step in steps:
            position = done + order.index(step.server.name) + 1
            if step.position != position:
                step.position = position
                changed.append(step)
        PatchStep.objects.bulk_update(changed, ["position"])
        return min(steps, key=lambda s: order.index(s.server.name))

    def _halt(self, failed: PatchStep) -> None:
        with transaction.atomic():
            reason = f"not started: the cluster halted after {failed.server.name} failed"
            run_state.cancel_pending_steps(self.patch_run, reason, clusters=[self.rc.pk])
            PatchRunCluster.objects.filter(pk=self.rc.pk).update(
                status=ClusterRunStatus.FAILED,
                active=False,
                reason=f"halted: {failed.server.name} failed",
                finished_at=timezone.now(),
            )

    def _close(self) -> None:
        steps = self.rc.steps.all()
        if steps.filter(outcome=StepOutcome.FAILED, retries__isnull=True).exists():
            status = ClusterRunStatus.FAILED
        elif steps.exclude(outcome=StepOutcome.CANCELLED).exists():
            status = ClusterRunStatus.SUCCEEDED
        else:
            status = ClusterRunStatus.CANCELLED
        PatchRunCluster.objects.filter(pk=self.rc.pk).exclude(status__in=FINAL_CLUSTER_STATUSES).update(
            status=status, active=False, finished_at=timezone.now()
        )


# ---------------------------------------------------------------- one server


class StepRunner:
    def __init__(self, cluster_patcher: ClusterPatcher, step: PatchStep, health: ClusterHealth):
        self.cp = cluster_patcher
        self.step = step
        self.server: Server = step.server
        self.health = health
        self.recipe = cluster_patcher.recipe
        self.target = cluster_patcher.patch_run.patch_version
        self.owner = cluster_patcher.orchestrator.owner
        self.checks: list[dict[str, Any]] = list(step.checks or [])
        self.staged: dict[str, Any] = {}
        self.out: StepOutput
        self.executor: Executor

    def run(self) -> str | None:
        """The step's outcome, or None when it may not start (the run is stopping)."""
        resumed_from = self.step.status if self.step.is_in_flight else None
        previous_owner = self.step.owner
        if not self._claim(resumed_from):
            return None
        self.out = StepOutput(self.step.pk, existing=self.step.output if resumed_from else "")
        self.executor = self.cp.executor_for(self.server)
        try:
            if resumed_from in (StepStatus.PATCHING, StepStatus.VERIFYING):
                self.out.note(
                    f"worker {previous_owner} stopped while this server was {resumed_from}; {self.owner} "
                    "takes over: the command is not run again, the server's real state is verified"
                )
                return self._verify(resumed=True)
            if resumed_from:
                self.out.note(
                    f"worker {previous_owner} stopped while this server was {resumed_from} (nothing run "
                    f"on it yet); {self.owner} starts it again from the pre-checks"
                )
                self.health = self._wait_for_health()
            return self._precheck_and_patch()
        except StepFailed as exc:
            return self._finish(StepOutcome.FAILED, exc.reason, exit_code=exc.exit_code)
        except Lost:
            raise
        except Exception as exc:
            logger.exception("Patch run %s: step %s failed unexpectedly", self.step.run_id, self.step.pk)
            return self._finish(StepOutcome.FAILED, f"internal error: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------ state changes

    def _claim(self, resumed_from: str | None) -> bool:
        # No lock on the run: cancel marks pending steps cancelled, so this conditional update
        # fails for them, and a pause that lands a moment after the check pauses after this server.
        stop = self.cp.orchestrator.stop_reason()
        if stop == "lost":
            raise Lost()
        now = timezone.now()
        if resumed_from:
            claimed = PatchStep.objects.filter(
                pk=self.step.pk, status=resumed_from, owner=self.step.owner
            ).update(owner=self.owner, heartbeat_at=now, attempts=F("attempts") + 1)
        elif stop:
            return False
        else:
            claimed = PatchStep.objects.filter(pk=self.step.pk, status=StepStatus.PENDING).update(
                status=StepStatus.PRECHECKING,
                owner=self.owner,
                heartbeat_at=now,
                started_at=now,
                attempts=F("attempts") + 1,
            )
            self.step.status, self.step.started_at = StepStatus.PRECHECKING, now
        self.step.owner, self.step.heartbeat_at, self.step.attempts = self.owner, now, self.step.attempts + 1
        return bool(claimed)

    def _stage(self, **fields: Any) -> None:
        """Facts written with the step's next state change (one commit instead of several)."""
        self.staged.update(fields)
        for name, value in fields.items():
            setattr(self.step, name, value)

    def _set(self, **fields: Any) -> None:
        fields = {**self.staged, **(self.out.fields() if self.out.unflushed else {}), **fields}
        if not PatchStep.objects.filter(pk=self.step.pk, owner=self.owner).update(**fields):
            raise Lost()
        self.staged = {}
        for name, value in fields.items():
            setattr(self.step, name, value)

    def _check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(
            {"check": name, "ok": ok, "detail": detail[:500], "at": timezone.now().isoformat()}
        )

    def _finish(self, outcome: str, reason: str, **facts: Any) -> str:
        now = timezone.now()
        self.out.note(f"{outcome}: {reason}" if reason else outcome)
        fields = {
            "status": outcome,
            "outcome": outcome,
            "reason": reason[:2000],
            "finished_at": now,
            **self.out.fields(),
            "checks": self.checks,
            **facts,
        }
        with transaction.atomic():
            self._set(**fields)
            step = self.step
            run = self.cp.patch_run
            record_activity(
                dbms_type=run.dbms_type,
                type=ActivityType.PATCH,
                summary=f"{run.patch_type} patch {run.patch_version} on {self.server.name}: {outcome}"
                + (f" ({reason})" if reason and outcome != StepOutcome.SUCCEEDED else ""),
                cluster=self.cp.cluster,
                server=self.server,
                planned=True,
                occurred_at=now,
                details={
                    "run": run.pk,
                    "step": step.pk,
                    "patchType": run.patch_type,
                    "patchVersion": run.patch_version,
                    "outcome": outcome,
                    "versionBefore": step.version_before,
                    "versionAfter": step.version_after,
                    "roleBefore": step.role_before,
                    "roleAfter": step.role_after,
                    "exitCode": step.exit_code,
                },
            )
            record_server_facts(self.server.pk, run.patch_type, step.version_after, step.role_after)
            run_state.announce_step_finished(run, step)
        return outcome

    # ------------------------------------------------------------ phases

    def _precheck_and_patch(self) -> str:
        self.out.note(f"pre-checks on {self.server.name} (cluster {self.cp.cluster.name})")
        state = self.health.states.get(self.server.name) or ServerState(False, error="not checked")
        self._check("reachable", state.reachable, state.error)
        if not state.reachable:
            raise StepFailed(f"pre-check: {self.server.name} is unreachable ({state.error})")
        version, error = read_version(self.recipe, self.executor, state)
        self._check("version", not error, error or version)
        if error:
            raise StepFailed(f"pre-check: {error}")
        self._stage(version_before=version, role_before=state.role)
        if is_at(version, self.target):
            return self._finish(
                StepOutcome.SKIPPED, f"already at {version}", version_after=version, role_after=state.role
            )
        self._check("cluster healthy", self.health.healthy, "; ".join(self.health.problems))
        if not self.health.healthy:
            raise StepFailed("pre-check: the cluster is not healthy: " + "; ".join(self.health.problems))
        problems = self.executor.preflight()
        if problems:
            raise StepFailed("pre-check: " + "; ".join(problems))
        expected_role = state.role
        if self.server.name == self.health.primary:
            strategy = self.cp.patch_settings.primary_strategy or self.cp.module.DEFAULT_PRIMARY_STRATEGY
            if strategy == PrimaryStrategy.SWITCHOVER:
                expected_role = self._switchover()
            else:
                self.out.note(
                    f"{self.server.name} is the primary: patching it in place (primary strategy {strategy})"
                )
        self._set(status=StepStatus.PATCHING, expected_role=expected_role, heartbeat_at=timezone.now())
        self._patch()
        return self._verify()

    def _switchover(self) -> str:
        """Hand the primary role to a healthy replica; returns the role this server has after."""
        self._set(status=StepStatus.SWITCHOVER, heartbeat_at=timezone.now())
        replica_roles = {
            getattr(self.cp.module, "REPLICA_ROLE", ""),
            getattr(self.cp.module, "SECONDARY_ROLE", ""),
        }
        candidates = [
            name
            for name, s in self.health.states.items()
            if name != self.server.name and s.reachable and s.role in replica_roles
        ]
        if not candidates:
            raise StepFailed(
                "switchover: no healthy replica to hand the primary role to (use primary strategy in_place)"
            )
        patched = set(
            self.cp.rc.steps.filter(outcome=StepOutcome.SUCCEEDED).values_list("server__name", flat=True)
        )
        candidate = sorted(candidates, key=lambda n: (n not in patched, n))[0]
        candidate_server = next(s for s in self.cp.members if s.name == candidate)
        ps = self.cp.patch_settings
        values = self.cp.values_for(self.server)
        if ps.switchover_command.strip():
            candidate_values = self.cp.values_for(candidate_server)
            values.update({f"candidate_{k}": v for k, v in candidate_values.items()})
            values.update(
                candidate=candidate,
                candidate_host=candidate_values["host"],
                candidate_port=candidate_values["port"],
            )
            self.out.note(f"switchover to {candidate}: running the cluster's switchover command")
            result = self.executor.run_shell(
                run_state.render(ps.switchover_command, values),
                timeout=self.recipe.timeout_seconds,
                on_output=self.out.write,
            )
            if not result.ok:
                raise StepFailed(f"switchover command failed ({result.describe()})", result.exit_code)
        elif ps.patroni_url.strip():
            from rocketdbaas.dbms.postgresql import patroni_switchover

            url = run_state.render(ps.patroni_url, values)
            self.out.note(f"switchover to {candidate} through Patroni at {url}")
            try:
                self.out.write(patroni_switchover(url, self.server.name, candidate) + "\n")
            except (RuntimeError, ValueError) as exc:
                raise StepFailed(f"switchover: {exc}") from exc
        elif hasattr(self.cp.module, "step_down"):
            self.out.note(f"stepping {self.server.name} down (replSetStepDown)")
            try:
                self.cp.module.step_down(self.cp.targets[self.server.name])
            except Exception as exc:
                raise StepFailed(f"step down failed: {exc}") from exc
        else:
            raise StepFailed(
                "switchover needs a switchover command or a Patroni URL in the cluster's patch settings "
                "(or primary strategy in_place)"
            )
        deadline = time.monotonic() + self.recipe.verify_timeout_seconds
        while True:
            health = self.cp.health()
            state = health.states.get(self.server.name)
            if health.primary and health.primary != self.server.name and state and state.reachable:
                break
            if time.monotonic() > deadline:
                raise StepFailed(
                    f"switchover did not complete in {self.recipe.verify_timeout_seconds}s: "
                    + ("; ".join(health.problems) or f"{self.server.name} is still the primary")
                )
            self._sleep_verify()
        self.out.note(f"{health.primary} is the primary now; {self.server.name} is {state.role}")
        with transaction.atomic():
            record_activity(
                dbms_type=self.cp.cluster.dbms_type,
                type=ActivityType.SWITCHOVER,
                summary=f"Switchover {self.server.name} -> {health.primary} before patching (run #{self.cp.patch_run.pk})",
                cluster=self.cp.cluster,
                server=self.server,
                planned=True,
                details={
                    "run": self.cp.patch_run.pk,
                    "step": self.step.pk,
                    "from": self.server.name,
                    "to": health.primary,
                },
            )
            for name, member_state in health.states.items():
                member = next(s for s in self.cp.members if s.name == name)
                record_server_facts(member.pk, "", "", member_state.role if member_state.reachable else "")
        self.health = health
        return state.role

    def _patch(self) -> None:
        values = self.cp.values_for(self.server)
        timeout_at = time.monotonic() + self.recipe.timeout_seconds
        for label, template, main in (
            ("pre-command", self.recipe.pre_command, False),
            ("command", self.recipe.command, True),
            ("post-command", self.recipe.post_command, False),
        ):
            if not template.strip():
                continue
            remaining = timeout_at - time.monotonic()
            if remaining <= 0:
                raise StepFailed(f"{label} not run: the recipe's {self.recipe.timeout_seconds}s were used up")
            if main and self.recipe.executor == "ansible":
                self.out.note(f"{label}: ansible-playbook {template.strip()}")
                result: ExecResult = self.executor.run_patch(
                    template, timeout=remaining, on_output=self.out.write
                )
            else:
                command = run_state.render(template, values)
                self.out.note(f"{label}: {command}")
                result = self.executor.run_shell(command, timeout=remaining, on_output=self.out.write)
            self._stage(exit_code=result.exit_code)
            if not result.ok:
                raise StepFailed(f"{label} failed ({result.describe()})", result.exit_code)

    def _verify(self, resumed: bool = False) -> str:
        self._set(status=StepStatus.VERIFYING, heartbeat_at=timezone.now())
        self.out.note(
            f"verifying: back, {self.step.expected_role or 'same role'}, healthy, at {self.target} "
            f"(up to {self.recipe.verify_timeout_seconds}s)"
        )
        deadline = time.monotonic() + self.recipe.verify_timeout_seconds
        last: list[str] = []
        version = role = ""
        while True:
            health = self.cp.health()
            state = health.states.get(self.server.name) or ServerState(False, error="not checked")
            problems: list[str] = []
            if not state.reachable:
                problems.append(f"{self.server.name} is not reachable ({state.error})")
            else:
                role = state.role
                if self.step.expected_role and state.role != self.step.expected_role:
                    problems.append(f"{self.server.name} is {state.role}, expected {self.step.expected_role}")
                problems.extend(health.problems)
                if not problems:
                    version, error = read_version(self.recipe, self.executor, state)
                    if error:
                        problems.append(error)
                    elif not is_at(version, self.target):
                        problems.append(f"{self.server.name} is at {version}, expected {self.target}")
            if not problems:
                self._check("post-checks", True, f"{role}, healthy, at {version}")
                reason = (
                    "verified after the worker was replaced (the command was not re-run)" if resumed else ""
                )
                return self._finish(StepOutcome.SUCCEEDED, reason, version_after=version, role_after=role)
            if problems != last:
                self.out.note("waiting: " + "; ".join(problems))
                last = problems
            if time.monotonic() > deadline:
                break
            if self.cp.orchestrator.lost.is_set():
                raise Lost()
            self._sleep_verify()
        self._check("post-checks", False, "; ".join(last))
        if resumed:
            reason = (
                "interrupted while patching and the server is not back at the target: "
                + "; ".join(last)
                + ". The command was not run again: check the server, then retry the failed servers."
            )
        else:
            reason = f"post-check failed after {self.recipe.verify_timeout_seconds}s: " + "; ".join(last)
        return self._finish(StepOutcome.FAILED, reason, version_after=version, role_after=role)

    def _wait_for_health(self) -> ClusterHealth:
        """After a takeover the cluster may still be settling (a restart, a switchover)."""
        deadline = time.monotonic() + self.recipe.verify_timeout_seconds
        health = self.cp.health()
        while not health.healthy and time.monotonic() < deadline:
            self._sleep_verify()
            health = self.cp.health()
        return health

    def _sleep_verify(self) -> None:
        time.sleep(config.PATCH_VERIFY_POLL_SECONDS)


def record_server_facts(server_id: int, patch_type: str, version: str, role: str) -> None:
    """What the live server reported, written back to the inventory: its role and its DB or OS version."""
    record_patched_facts(
        server_id,
        db_version=version if patch_type == PatchType.DB else "",
        os_version=version if patch_type == PatchType.OS else "",
        role=role,
    )
