"""`rocketdbaas patch …`: start, follow and control rolling patch runs from the command line.

    rocketdbaas patch start --dbms-type postgresql --cluster pg-orders-prod \\
        --patch-type DB --version 16.4 --recipe pg-minor-dnf --wait
    rocketdbaas patch status 12 --watch
    rocketdbaas patch cancel 12
"""

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rocketdbaas.accounts.models import User
from rocketdbaas.core.errors import ProblemError
from rocketdbaas.dbms import resolve_dbms_type
from rocketdbaas.patching import services, tasks
from rocketdbaas.patching.models import ACTIVE_RUN_STATUSES, PatchRun

BAR_WIDTH = 24


def progress_line(run: PatchRun) -> str:
    """One line: status, a bar, counts, and the servers in progress."""
    p = services.progress(run)
    filled = round(BAR_WIDTH * p["percent"] / 100)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    line = (
        f"run {run.pk} {run.status:<11} [{bar}] {p['done']}/{p['total']} servers "
        f"({p['succeeded']} ok, {p['skipped']} skipped, {p['failed']} failed, {p['cancelled']} cancelled)"
    )
    if p["inFlight"]:
        busy = run.steps.filter(status__in=services.IN_FLIGHT_STEP_STATUSES).select_related("server")
        line += " · " + ", ".join(f"{s.server.name} {s.status}" for s in busy)
    return line


def _batches(text: str) -> list[int | str]:
    items: list[int | str] = []
    for part in text.split(","):
        part = part.strip()
        items.append(int(part) if part.isdigit() else part)
    return items


class Command(BaseCommand):
    help = "Start, follow and control rolling patch runs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        start = sub.add_parser("start", help="Start a patch run (or a dry run)")
        start.add_argument("--dbms-type", required=True)
        target = start.add_mutually_exclusive_group(required=True)
        target.add_argument("--cluster", action="append", help="A cluster (repeat for several)")
        target.add_argument("--all", action="store_true", help="Every active cluster of the type")
        start.add_argument("--environment", help="With --all: only this environment")
        start.add_argument("--application", help="With --all: only this application")
        start.add_argument("--patch-type", required=True, choices=["DB", "OS"])
        start.add_argument("--version", dest="patch_version", required=True)
        start.add_argument("--recipe", required=True)
        start.add_argument(
            "--batches", default="1", help='Clusters per batch, e.g. "1,25%%,100%%" (default 1)'
        )
        start.add_argument("--max-failures", type=int, default=1)
        start.add_argument("--dry-run", action="store_true", help="Plan and pre-check only; change nothing")
        start.add_argument("--user", help="Record the run as started by this user")
        start.add_argument("--wait", action="store_true", help="Follow the run until it ends")

        status = sub.add_parser("status", help="Show a run's progress")
        status.add_argument("run_id", type=int)
        status.add_argument("--watch", action="store_true", help="Refresh until the run ends")
        status.add_argument("--steps", action="store_true", help="List every server")

        listing = sub.add_parser("list", help="List recent runs")
        listing.add_argument("--dbms-type")
        listing.add_argument("--active", action="store_true")
        listing.add_argument("--limit", type=int, default=20)

        for name, text in (
            ("cancel", "Cancel a run"),
            ("pause", "Pause a run"),
            ("resume", "Resume a paused run"),
            ("retry", "Retry a failed run's failed servers"),
        ):
            control = sub.add_parser(name, help=text)
            control.add_argument("run_id", type=int)
            control.add_argument("--user", help="Record the action as this user's")
            control.add_argument("--wait", action="store_true", help="Follow the run until it ends")

        sub.add_parser("reconcile", help="Queue again the runs whose worker stopped (the worker does it too)")

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, f"do_{action}")(**options)
        except ProblemError as exc:
            details = "; ".join(
                f"{e.get('field') or 'input'}: {e['message']}" for e in (exc.errors or []) if "message" in e
            )
            raise CommandError(exc.detail + (f" ({details})" if details else "")) from None

    def _user(self, username: str | None) -> User | None:
        if not username:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        return user

    def do_start(self, **o) -> None:
        dbms = resolve_dbms_type(o["dbms_type"])
        req = services.RunRequest(
            dbms_type=dbms,
            patch_type=o["patch_type"],
            patch_version=o["patch_version"],
            recipe=o["recipe"],
            clusters=o["cluster"],
            selector=o["all"],
            environment=o["environment"],
            application=o["application"],
            batches=_batches(o["batches"]),
            max_failures=o["max_failures"],
            dry_run=o["dry_run"],
        )
        run = services.start_patch_run(req, self._user(o["user"]))
        kind = "Dry run" if run.dry_run else "Patch run"
        self.stdout.write(
            f"{kind} {run.pk}: {run.patch_type} {run.patch_version} with recipe {run.recipe.name}"
        )
        self._print_steps(run)
        if run.dry_run:
            self.stdout.write(f"Dry run {run.status}" + (f": {run.reason}" if run.reason else ""))
        elif o["wait"]:
            self._follow(run.pk)

    def do_status(self, run_id: int, watch: bool, steps: bool, **o) -> None:
        if watch:
            self._follow(run_id)
        else:
            self.stdout.write(progress_line(services.get_run(None, run_id)))
        if steps:
            self._print_steps(services.get_run(None, run_id))

    def do_list(self, dbms_type: str | None, active: bool, limit: int, **o) -> None:
        qs = services.list_filtered(
            PatchRun.objects.all()
            if not dbms_type
            else PatchRun.objects.filter(dbms_type=resolve_dbms_type(dbms_type)),
            active=True if active else None,
        ).order_by("-created_at", "-id")
        for run in qs[:limit]:
            dry = " (dry run)" if run.dry_run else ""
            self.stdout.write(
                f"{run.pk:>6} {run.created_at:%Y-%m-%d %H:%M} {run.dbms_type:<10} {run.patch_type} "
                f"{run.patch_version:<12} {run.status:<11} {services.progress(run)['done']}/"
                f"{services.progress(run)['total']}{dry}"
            )

    def _control(self, action, run_id: int, user: str | None, wait: bool) -> None:
        run = services.get_run(None, run_id)
        action(run.dbms_type, run.pk, self._user(user))
        self.stdout.write(progress_line(services.get_run(None, run_id)))
        if wait:
            self._follow(run_id)

    def do_cancel(self, run_id: int, user=None, wait=False, **o) -> None:
        self._control(services.cancel_run, run_id, user, wait)

    def do_pause(self, run_id: int, user=None, wait=False, **o) -> None:
        self._control(services.pause_run, run_id, user, wait)

    def do_resume(self, run_id: int, user=None, wait=False, **o) -> None:
        self._control(services.resume_run, run_id, user, wait)

    def do_retry(self, run_id: int, user=None, wait=False, **o) -> None:
        self._control(services.retry_failed, run_id, user, wait)

    def do_reconcile(self, **o) -> None:
        queued = tasks.reconcile_runs()
        self.stdout.write(f"Queued again: {', '.join(map(str, queued))}" if queued else "Nothing to resume.")

    def _print_steps(self, run: PatchRun) -> None:
        for step in services.run_steps(run):
            versions = f"{step.version_before or '?'}" + (
                f" -> {step.version_after}" if step.version_after else ""
            )
            self.stdout.write(
                f"  batch {step.batch} {step.cluster.name:<20} {step.position:>2}. {step.server.name:<24} "
                f"{step.role_before or step.server.role or '?':<9} {versions:<20} {step.status:<11} {step.reason}"
            )

    def _follow(self, run_id: int, interval: float = 1.0) -> None:
        """A progress line, rewritten in place on a terminal, until the run ends."""
        tty = self.stdout.isatty()
        last = ""
        while True:
            run = services.get_run(None, run_id)
            line = progress_line(run)
            if tty:
                self.stdout.write("\r" + line.ljust(len(last)), ending="")
                self.stdout.flush()
            elif line != last:
                self.stdout.write(line)
            last = line
            if run.status not in ACTIVE_RUN_STATUSES or run.status == "paused":
                break
            time.sleep(interval)
        if tty:
            self.stdout.write("")
        if run.reason:
            self.stdout.write(run.reason)
        if run.status == "failed":
            raise CommandError(f"Patch run {run.pk} failed.")
