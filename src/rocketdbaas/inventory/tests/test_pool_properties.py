"""Property test of the pool's state machine: random sequences of pool operations by two callers,
checked step by step against a model of DESIGN §3's transitions."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from tests.support.fixtures import make_user

from rocketdbaas.activities.models import Activity
from rocketdbaas.core.errors import Conflict, Invalid
from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server

NAMES = [f"prop-{i}" for i in range(3)]  # few names, so rules often meet the same server
names = st.sampled_from(NAMES)
callers = st.sampled_from([0, 1])


class PoolMachine(RuleBasedStateMachine):
    users: list = []
    cluster = None

    @initialize()
    def fresh_pool(self):
        # Each example runs in a savepoint rolled back at teardown (activities can't be deleted).
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        self.model: dict[str, tuple[str, int | None]] = {}  # name -> (status, holder)
        self.transitions = 0

    def _count(self, status):
        return sum(1 for s, _ in self.model.values() if s == status)

    @rule(name=names)
    def add(self, name):
        try:
            services.add_pool_servers("postgresql", [services.ServerSpec(name, cpu=2, ram=4, db_gigs=10)])
        except Conflict:
            assert name in self.model
            return
        assert name not in self.model
        self.model[name] = (PoolStatus.FREE, None)
        self.transitions += 1

    @rule(n=st.integers(1, 3), who=callers)
    def pull(self, n, who):
        free = self._count(PoolStatus.FREE)
        try:
            result = services.pull_and_lock("postgresql", n, cpu=1, ram=1, db_gigs=1, user=self.users[who])
        except Conflict as exc:
            assert free < n and exc.extra["matching"] == free
            return
        assert free >= n and len(result.servers) == n
        for server in result.servers:
            assert self.model[server.name][0] == PoolStatus.FREE
            self.model[server.name] = (PoolStatus.LOCKED, who)
        self.transitions += n

    @rule(name=names, who=callers, to=st.sampled_from([PoolStatus.FREE, PoolStatus.USED]))
    def patch(self, name, who, to):
        before = self.model.get(name)
        try:
            services.set_pool_status(
                "postgresql", name, to, user=self.users[who], cluster_name="pg-prop", role="replica"
            )
        except services.NotFound:
            assert before is None
            return
        except (Conflict, Invalid):
            assert before is not None
            status, holder = before
            legal = (status == PoolStatus.LOCKED and holder == who) or (
                status == PoolStatus.USED and to == PoolStatus.FREE
            )
            assert not legal, (before, who, to)
            return
        status, holder = before
        assert (status == PoolStatus.LOCKED and holder == who) or (status, to) == (
            PoolStatus.USED,
            PoolStatus.FREE,
        )
        self.model[name] = (to, None)
        self.transitions += 1

    @rule(name=names)
    def retire(self, name):
        before = self.model.get(name)
        try:
            services.retire_pool_servers("postgresql", [name])
        except services.NotFound:
            assert before is None
            return
        except Conflict:
            assert before is not None and before[0] != PoolStatus.FREE
            return
        assert before == (PoolStatus.FREE, None)
        self.model[name] = (PoolStatus.RETIRED, None)
        self.transitions += 1

    @rule()
    def leases_run_out(self):
        Server.objects.filter(status=PoolStatus.LOCKED).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        released = services.release_expired_leases()
        assert released == self._count(PoolStatus.LOCKED)
        for name, (status, _) in list(self.model.items()):
            if status == PoolStatus.LOCKED:
                self.model[name] = (PoolStatus.FREE, None)
        self.transitions += released

    def teardown(self):
        if hasattr(self, "savepoint"):
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)

    @invariant()
    def database_matches_the_model(self):
        rows = {s.name: s for s in Server.objects.select_related("locked_by").all()}
        assert set(rows) == set(self.model)
        for name, (status, holder) in self.model.items():
            s = rows[name]
            assert s.status == status
            locked = status == PoolStatus.LOCKED
            assert (s.locked_by == self.users[holder]) if locked else s.locked_by is None
            assert (s.reservation_id is not None and s.lease_expires_at is not None) == locked
            assert (s.cluster_id is not None) == (status == PoolStatus.USED)
        # One audit row per transition, none lost or doubled.
        assert Activity.objects.count() == self.transitions


@pytest.mark.django_db
def test_pool_state_machine():
    PoolMachine.users = [make_user("prop-a", "dba"), make_user("prop-b", "dba")]
    app = Application.objects.create(name="prop")
    Cluster.objects.create(name="pg-prop", dbms_type="postgresql", application=app)
    run_state_machine_as_test(
        PoolMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
