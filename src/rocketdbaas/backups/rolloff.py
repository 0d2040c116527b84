"""Which backups a retention policy lets go (DESIGN §7), as a pure function over plain facts.

Per cluster and repository:
- Only successful backups count. A chain is a backup that restores on its own (full, logical,
  snapshot) plus every differential/incremental built on it, directly or not; a chain expires
  whole or not at all.
- A chain is kept when it is among the newest `keep_fulls` (or, with a recovery window, it has a
  successful backup newer than now - W, or its full is the newest one older than that), when it is
  among the newest `min_fulls`, when it is the newest successful full, or when any member is
  pinned or still running (a running diff will need its parents).
- Failed backups hold nothing up; they are kept `failed_keep_days` (for reporting), then expire.
- Anything else (a running full, a backup whose chain root is not in the catalogue) is left alone.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rocketdbaas.backups.models import CHAIN_ROOT_TYPES, BackupStatus


@dataclass(frozen=True, slots=True)
class BackupFacts:
    id: int
    backup_type: str
    status: str
    started_at: datetime
    stopped_at: datetime | None = None
    depends_on_id: int | None = None
    pinned: bool = False


@dataclass(frozen=True)
class Policy:
    keep_fulls: int | None = None
    recovery_window_days: int | None = None
    min_fulls: int = 1
    failed_keep_days: int = 30

    def describe(self) -> str:
        rule = (
            f"keepFulls={self.keep_fulls}"
            if self.keep_fulls is not None
            else f"recoveryWindowDays={self.recovery_window_days}"
        )
        return f"{rule}, minFulls={self.min_fulls}, failedKeepDays={self.failed_keep_days}"


@dataclass(frozen=True, slots=True)
class Expiry:
    backup_id: int
    chain_root_id: int | None
    reason: str


def plan_roll_off(backups: Sequence[BackupFacts], policy: Policy, now: datetime) -> list[Expiry]:
    """What to expire among the not-yet-expired backups of one cluster and repository."""
    by_id = {b.id: b for b in backups}
    children: dict[int, list[BackupFacts]] = defaultdict(list)
    for b in backups:
        if b.depends_on_id is not None and b.depends_on_id in by_id:
            children[b.depends_on_id].append(b)

    roots = sorted(
        (
            b
            for b in backups
            if b.backup_type in CHAIN_ROOT_TYPES
            and b.status == BackupStatus.SUCCEEDED
            and b.depends_on_id is None
        ),
        key=lambda b: (b.started_at, b.id),
        reverse=True,
    )

    def chain(root: BackupFacts) -> list[BackupFacts]:
        """The root and everything built on it that is not failed (failed ones hold nothing)."""
        members, stack = [], [root]
        while stack:
            node = stack.pop()
            members.append(node)
            stack.extend(c for c in children.get(node.id, []) if c.status != BackupStatus.FAILED)
        return members

    chains = [(root, chain(root)) for root in roots]
    keep_count = max(policy.min_fulls, 1)
    if policy.keep_fulls is not None:
        keep_count = max(keep_count, policy.keep_fulls)
        reason = f"chain beyond the newest {keep_count} fulls ({policy.describe()})"
    else:
        cutoff = now - timedelta(days=policy.recovery_window_days or 0)
        reason = (
            f"chain older than the {policy.recovery_window_days}-day recovery window ({policy.describe()})"
        )

    expiries: list[Expiry] = []
    seen_root_before_cutoff = False
    for index, (root, members) in enumerate(chains):
        keep = index < keep_count or any(m.pinned or m.status == BackupStatus.RUNNING for m in members)
        if policy.keep_fulls is None:
            if any(m.started_at >= cutoff for m in members if m.status == BackupStatus.SUCCEEDED):
                keep = True
            if root.started_at < cutoff and not seen_root_before_cutoff:
                # The newest full older than the window is what restores to the window's start.
                seen_root_before_cutoff = True
                keep = True
        if not keep:
            expiries.extend(Expiry(m.id, root.id, reason) for m in members)

    failed_cutoff = now - timedelta(days=policy.failed_keep_days)
    for b in backups:
        if (
            b.status == BackupStatus.FAILED
            and not b.pinned
            and (b.stopped_at or b.started_at) < failed_cutoff
        ):
            expiries.append(
                Expiry(b.id, None, f"failed backup older than failedKeepDays={policy.failed_keep_days}")
            )
    return expiries


@dataclass(slots=True)
class RollOffItem:
    backup_id: int
    cluster: str
    repository: str
    label: str
    backup_type: str
    status: str
    started_at: datetime
    bkup_size_gigs: float | None
    reason: str
    chain_root: str | None


@dataclass
class RollOffReport:
    """What a roll-off expired (or would): counts over everything, items up to max_items."""

    dry_run: bool
    now: datetime
    max_items: int | None = None
    clusters_checked: int = 0
    clusters_without_policy: list[str] = field(default_factory=list)
    items: list[RollOffItem] = field(default_factory=list)
    expire_count: int = 0
    reclaimed: float = 0.0

    def add(self, items: list[RollOffItem]) -> None:
        self.expire_count += len(items)
        self.reclaimed += sum(i.bkup_size_gigs or 0 for i in items)
        room = len(items) if self.max_items is None else max(0, self.max_items - len(self.items))
        self.items.extend(items[:room])

    @property
    def reclaimed_gigs(self) -> float:
        return round(self.reclaimed, 3)
