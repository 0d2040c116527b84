"""Switchover before the primary, against a real PostgreSQL primary + streaming replica.

The cluster's switchover command (or the Patroni REST call) really moves the primary role:
the old primary stops cleanly, the replica is promoted, and the old primary restarts as a
standby of it. Then the old primary is patched as a replica.
"""

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from tests.support.pg import PG_BIN
from tests.support.services import free_port

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.inventory.models import Server
from rocketdbaas.patching import run_state, services
from rocketdbaas.patching.models import ClusterPatchSettings, RunStatus
from rocketdbaas.patching.orchestrator import RunOrchestrator
from rocketdbaas.patching.tests.conftest import (
    AS_POSTGRES,
    build_pg_cluster,
    patch_level,
    patch_level_recipe,
    register_pg_cluster,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Runs on the primary's host with the primary's and the candidate's variables.
SWITCHOVER = (
    "{as_postgres} {pg_ctl} -D {datadir} -m fast -w stop >/dev/null && "
    "{as_postgres} {pg_ctl} -D {candidate_datadir} -w promote >/dev/null && "
    "{as_postgres} touch {datadir}/standby.signal && "
    "echo \"primary_conninfo = 'host=127.0.0.1 port={candidate_port} user=postgres'\" "
    "| {as_postgres} tee -a {datadir}/postgresql.auto.conf >/dev/null && "
    "{as_postgres} {pg_ctl} -D {datadir} -l {logfile} -w start >/dev/null && "
    "echo 'switched over from {server} to {candidate}'"
)


@pytest.fixture(scope="module")
def pg_switch():
    cluster = build_pg_cluster()
    try:
        yield cluster
    finally:
        cluster.destroy()


def primary_and_replica(pg):
    by_role = {inst.query("SELECT pg_is_in_recovery()")[0][0]: inst for inst in pg.members}
    return by_role[False], by_role[True]


def run_to(cluster, version, user):
    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql",
            patch_type="DB",
            patch_version=version,
            recipe="patch-level",
            cluster=cluster,
        ),
        user,
    )
    assert RunOrchestrator(run.pk).execute() == RunStatus.SUCCEEDED, run.steps.values_list(
        "reason", flat=True
    )
    return run


def test_switchover_command_hands_over_before_the_primary_is_patched(pg_switch, admin_user):
    cluster, _ = register_pg_cluster(pg_switch, "pg-sw")
    patch_level_recipe()
    ClusterPatchSettings.objects.filter(cluster=cluster).update(
        primary_strategy="switchover", switchover_command=SWITCHOVER
    )
    old_primary, old_replica = primary_and_replica(pg_switch)

    run = run_to(cluster.name, "16.1", admin_user)

    first, second = run.steps.select_related("server").order_by("started_at")
    assert first.server.name.endswith(old_replica.name) and (first.role_before, first.role_after) == (
        "replica",
        "replica",
    )
    assert second.server.name.endswith(old_primary.name)
    assert (second.role_before, second.expected_role, second.role_after) == ("primary", "replica", "replica")
    assert f"switched over from {second.server.name} to {first.server.name}" in second.output
    new_primary, new_replica = primary_and_replica(pg_switch)
    assert (new_primary, new_replica) == (old_replica, old_primary)
    assert {patch_level(i) for i in pg_switch.members} == {"16.1"}
    # The cluster serves writes on its new primary, and they reach the new replica.
    new_primary.query("CREATE TABLE after_switchover (v int)")
    wait_for(lambda: new_replica.query("SELECT to_regclass('after_switchover')")[0][0], what="replication")
    switchover = Activity.objects.get(type=ActivityType.SWITCHOVER, cluster=cluster)
    assert switchover.planned and switchover.details["to"] == first.server.name
    assert dict(Server.objects.filter(cluster=cluster).values_list("name", "role")) == {
        first.server.name: "primary",
        second.server.name: "replica",
    }


class FakePatroni(BaseHTTPRequestHandler):
    """Answers POST /switchover as Patroni does, and moves the role with the same commands."""

    calls: list = []
    command = ""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakePatroni.calls.append((self.path, body))
        done = subprocess.run(
            ["/bin/sh", "-c", FakePatroni.command], capture_output=True, text=True, timeout=60
        )
        self.send_response(200 if done.returncode == 0 else 503)
        self.end_headers()
        self.wfile.write(f'Successfully switched over to "{body["candidate"]}"'.encode())

    def log_message(self, *args):
        pass


def test_patroni_rest_api_switchover(pg_switch, admin_user):
    cluster, _ = register_pg_cluster(pg_switch, "pg-pat")
    patch_level_recipe()
    primary, replica = primary_and_replica(pg_switch)
    name = {inst.name: f"pg-pat-{inst.name}" for inst in pg_switch.members}
    values = {
        "as_postgres": AS_POSTGRES,
        "pg_ctl": str(PG_BIN / "pg_ctl"),
        "datadir": primary.datadir,
        "candidate_datadir": replica.datadir,
        "candidate_port": replica.port,
        "logfile": primary.logfile,
        "server": name[primary.name],
        "candidate": name[replica.name],
    }
    FakePatroni.command = run_state.render(SWITCHOVER, values)
    port = free_port()
    httpd = HTTPServer(("127.0.0.1", port), FakePatroni)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    ClusterPatchSettings.objects.filter(cluster=cluster).update(
        primary_strategy="switchover", patroni_url=f"http://127.0.0.1:{port}"
    )
    try:
        run = run_to(cluster.name, "16.2", admin_user)
    finally:
        httpd.shutdown()

    assert FakePatroni.calls == [
        ("/switchover", {"leader": name[primary.name], "candidate": name[replica.name]})
    ]
    last = run.steps.order_by("started_at").last()
    assert "through Patroni" in last.output and "Successfully switched over" in last.output
    assert primary_and_replica(pg_switch) == (replica, primary)
    assert {patch_level(i) for i in pg_switch.members} == {"16.2"}


def test_switchover_without_a_way_to_do_it_fails_the_primary_only(pg_switch, admin_user):
    cluster, _ = register_pg_cluster(pg_switch, "pg-nosw")
    patch_level_recipe()
    ClusterPatchSettings.objects.filter(cluster=cluster).update(primary_strategy="switchover")
    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql",
            patch_type="DB",
            patch_version="16.3",
            recipe="patch-level",
            cluster=cluster.name,
        ),
        admin_user,
    )
    assert RunOrchestrator(run.pk).execute() == RunStatus.FAILED
    replica_step, primary_step = run.steps.order_by("started_at")
    assert replica_step.outcome == "succeeded"
    assert (
        primary_step.outcome == "failed"
        and "needs a switchover command or a Patroni URL" in primary_step.reason
    )
    primary, _ = primary_and_replica(pg_switch)
    assert patch_level(primary) == "16.2"
