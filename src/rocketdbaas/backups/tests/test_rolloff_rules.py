"""The roll-off rules as a pure function: hand-worked cases, then properties over random
catalogues and policies. The property tests are derandomized so CI runs the same examples
every time (a failure reproduces); they were also run with ten times the examples, randomly."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rocketdbaas.backups.models import ALLOWED_PARENT_TYPES, CHAIN_ROOT_TYPES, BackupStatus, BackupType
from rocketdbaas.backups.rolloff import BackupFacts, Policy, plan_roll_off

NOW = datetime(2026, 11, 28, tzinfo=UTC)
OK, RUNNING, FAILED = BackupStatus.SUCCEEDED, BackupStatus.RUNNING, BackupStatus.FAILED
FULL, DIFF, INCR = BackupType.FULL, BackupType.DIFFERENTIAL, BackupType.INCREMENTAL


def days_ago(n):
    return NOW - timedelta(days=n)


def b(id, kind, age, parent=None, status=OK, pinned=False):
    return BackupFacts(id, kind, status, days_ago(age), days_ago(age) + timedelta(hours=1), parent, pinned)


def expired(backups, policy):
    return {e.backup_id for e in plan_roll_off(backups, policy, NOW)}


WEEKS = [
    b(1, FULL, 28),
    b(2, DIFF, 25, 1),
    b(3, INCR, 24, 2),
    b(4, FULL, 21),
    b(5, INCR, 20, 4),
    b(6, FULL, 14),
    b(7, DIFF, 12, 6),
    b(8, FULL, 7),
    b(9, INCR, 6, 8),
]


def test_keep_n_fulls_expires_older_chains_whole():
    assert expired(WEEKS, Policy(keep_fulls=2)) == {1, 2, 3, 4, 5}
    assert expired(WEEKS, Policy(keep_fulls=4)) == set()


def test_min_fulls_overrides_a_smaller_keep():
    assert expired(WEEKS, Policy(keep_fulls=1, min_fulls=3)) == {1, 2, 3}


def test_recovery_window_keeps_the_newest_full_before_it():
    # Window of 10 days: everything from day 10 on, plus the chain of the newest full older
    # than that (day 14), which also restores to day 10.
    assert expired(WEEKS, Policy(recovery_window_days=10)) == {1, 2, 3, 4, 5}
    # A recent incremental of an old full keeps that whole chain.
    catalogue = [*WEEKS, b(10, INCR, 3, 4)]
    assert expired(catalogue, Policy(recovery_window_days=10)) == {1, 2, 3}


def test_pinned_or_running_members_keep_their_chain():
    pinned = [b(3, INCR, 24, 2, pinned=True) if x.id == 3 else x for x in WEEKS]
    assert expired(pinned, Policy(keep_fulls=2)) == {4, 5}
    running = [*WEEKS, b(10, INCR, 0, 5, status=RUNNING)]
    assert expired(running, Policy(keep_fulls=2)) == {1, 2, 3}


def test_failed_backups_are_kept_for_reporting_then_expire():
    catalogue = [b(1, FULL, 3), b(2, FULL, 40, status=FAILED), b(3, DIFF, 2, 1, status=FAILED)]
    assert expired(catalogue, Policy(keep_fulls=1, failed_keep_days=30)) == {2}
    assert expired(catalogue, Policy(keep_fulls=1, failed_keep_days=1)) == {2, 3}


def test_failed_and_running_fulls_are_not_counted_as_fulls():
    catalogue = [b(1, FULL, 10), b(2, FULL, 1, status=FAILED), b(3, FULL, 0, status=RUNNING)]
    assert expired(catalogue, Policy(keep_fulls=1)) == set()


def test_reasons_name_the_rule():
    (e, *_) = plan_roll_off(WEEKS, Policy(keep_fulls=2), NOW)
    assert "newest 2 fulls" in e.reason and "keepFulls=2" in e.reason


# --- properties -------------------------------------------------------------------------------


@st.composite
def catalogues(draw):
    """A random history of one repository: chains built as pgBackRest builds them."""
    n = draw(st.integers(0, 25))
    backups: list[BackupFacts] = []
    age = 60.0
    for i in range(1, n + 1):
        age -= draw(st.floats(0.05, 4))
        usable = [x for x in backups if x.status == OK]
        kind = draw(st.sampled_from([FULL, FULL, DIFF, INCR, INCR, BackupType.LOGICAL]))
        parent = None
        if kind in ALLOWED_PARENT_TYPES:
            candidates = [x for x in usable if x.backup_type in ALLOWED_PARENT_TYPES[kind]]
            if not candidates:
                kind = FULL
            else:
                parent = draw(st.sampled_from(candidates)).id
        status = draw(st.sampled_from([OK, OK, OK, OK, FAILED, RUNNING]))
        pinned = draw(st.integers(0, 9)) == 0
        backups.append(b(i, kind, max(age, 0), parent, status, pinned))
    return backups


policies = st.one_of(
    st.builds(
        Policy,
        keep_fulls=st.integers(1, 6),
        min_fulls=st.integers(1, 4),
        failed_keep_days=st.integers(0, 40),
    ),
    st.builds(
        Policy,
        recovery_window_days=st.integers(1, 45),
        min_fulls=st.integers(1, 4),
        failed_keep_days=st.integers(0, 40),
    ),
)


def check_safety(backups, policy, gone):
    by_id = {x.id: x for x in backups}
    kept = [x for x in backups if x.id not in gone]
    successful_fulls = sorted(
        (x for x in backups if x.backup_type in CHAIN_ROOT_TYPES and x.status == OK),
        key=lambda x: (x.started_at, x.id),
    )
    for x in gone:
        assert not by_id[x].pinned, "a pinned backup expired"
        assert by_id[x].status != RUNNING, "a running backup expired"
    if successful_fulls:
        assert successful_fulls[-1].id not in gone, "the newest successful full expired"
    for x in kept:
        if x.status != FAILED and x.depends_on_id is not None:
            assert x.depends_on_id not in gone, "a kept backup lost its parent"
    kept_fulls = [x for x in successful_fulls if x.id not in gone]
    assert len(kept_fulls) >= min(policy.min_fulls, len(successful_fulls)), "fewer than minFulls kept"
    # Chains go whole: a successful dependent of an expired backup is expired too.
    for x in backups:
        if x.status == OK and x.depends_on_id in gone:
            assert x.id in gone, "a chain was split"
    for x in gone:
        if by_id[x].status == FAILED:
            assert (by_id[x].stopped_at or by_id[x].started_at) < NOW - timedelta(
                days=policy.failed_keep_days
            )
    if policy.recovery_window_days is not None:
        cutoff = NOW - timedelta(days=policy.recovery_window_days)
        for x in gone:
            assert by_id[x].status == FAILED or by_id[x].started_at < cutoff, "expired inside the window"
    else:
        assert len(kept_fulls) >= min(policy.keep_fulls, len(successful_fulls)), "fewer than keepFulls kept"


@settings(max_examples=400, deadline=None, derandomize=True)
@given(catalogues(), policies)
def test_roll_off_never_breaks_a_safety_rule_and_is_idempotent(backups, policy):
    gone = expired(backups, policy)
    check_safety(backups, policy, gone)
    remaining = [x for x in backups if x.id not in gone]
    assert expired(remaining, policy) == set(), "a second run expired more"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(catalogues(), st.integers(1, 5))
def test_keep_n_keeps_exactly_the_newest_chains(backups, n):
    gone = expired(backups, Policy(keep_fulls=n, failed_keep_days=10_000))
    fulls = sorted(
        (x for x in backups if x.backup_type in CHAIN_ROOT_TYPES and x.status == OK and not x.depends_on_id),
        key=lambda x: (x.started_at, x.id),
        reverse=True,
    )
    for rank, full in enumerate(fulls):
        if rank < n:
            assert full.id not in gone
