"""The collector (telemetry) and the unplanned failovers report (reports) judge the same events
alike, because both ask activities.failover: a change of primary during a patch run, inside a
planned maintenance window, and outside both."""

from datetime import UTC, date, datetime, timedelta

import pytest

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.activities.services import record_activity
from rocketdbaas.dbms.base import ServerState
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.patching.models import PatchRecipe, PatchRun, PatchRunCluster, PatchType
from rocketdbaas.reports.periods import MonthRange
from rocketdbaas.reports.services import unplanned_failovers
from rocketdbaas.telemetry.models import CollectionRun, RunTrigger
from rocketdbaas.telemetry.services import PreviousResult, Probed, _detect_failovers

BEFORE = datetime(2026, 5, 10, 3, 0, tzinfo=UTC)  # the previous collection
SEEN = BEFORE + timedelta(minutes=15)  # this collection: the replica is primary now
MAY = MonthRange(date(2026, 5, 1), date(2026, 6, 1))


def _cluster(name):
    app = Application.objects.create(name=f"app-{name}")
    cluster = Cluster.objects.create(name=name, dbms_type="postgresql", application=app)
    for n, role in ((1, "primary"), (2, "replica")):
        Server.objects.create(
            name=f"{name}-{n}",
            dbms_type="postgresql",
            cpu=2,
            ram=8,
            db_gigs=20,
            cluster=cluster,
            status=PoolStatus.USED,
            role=role,
        )
    return cluster


@pytest.fixture
def clusters(db):
    patched, maintained, neither = _cluster("patched"), _cluster("maintained"), _cluster("neither")
    recipe = PatchRecipe.objects.create(
        name="minor", dbms_type="postgresql", patch_type=PatchType.DB, command="true"
    )
    run = PatchRun.objects.create(
        dbms_type="postgresql",
        patch_type=PatchType.DB,
        patch_version="15.10",
        recipe=recipe,
        status="running",
    )
    # The run took the cluster up before the window and is still working on it (between steps).
    PatchRunCluster.objects.create(
        run=run,
        cluster=patched,
        batch=1,
        position=1,
        status="running",
        started_at=BEFORE - timedelta(minutes=5),
    )
    record_activity(
        dbms_type="postgresql",
        type=ActivityType.DOWN,
        summary="Planned maintenance",
        cluster=maintained,
        planned=True,
        occurred_at=BEFORE + timedelta(minutes=1),
    )
    return patched, maintained, neither


def test_collector_and_report_agree_on_planned_and_unplanned_failovers(clusters):
    run = CollectionRun.objects.create(trigger=RunTrigger.SCHEDULE)
    promoted = Server.objects.filter(name__endswith="-2").select_related("cluster")
    _detect_failovers(
        run,
        [Probed(s, ServerState(reachable=True, role="primary"), SEEN, 5) for s in promoted],
        {s.pk: PreviousResult(role="replica", version="15.9", collected_at=BEFORE) for s in promoted},
        SEEN,
    )
    recorded_by_collector = set(
        Activity.objects.filter(type=ActivityType.FAILOVER).values_list("cluster__name", flat=True)
    )
    assert recorded_by_collector == {"neither"}

    # A DBA records the other two failovers by hand, unmarked, as they happened.
    for name in ("patched", "maintained"):
        record_activity(
            dbms_type="postgresql",
            type=ActivityType.FAILOVER,
            summary="replica promoted",
            cluster=Cluster.objects.get(name=name),
            planned=None,
            occurred_at=SEEN,
        )
    counted_by_report = {row["cluster_name"] for row in unplanned_failovers("postgresql", MAY).rows}
    assert counted_by_report == recorded_by_collector
