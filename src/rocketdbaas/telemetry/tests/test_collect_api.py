"""On-demand collection through the API and the command line. The servers here point at a
loopback port nothing listens on, so each run finishes fast with every server unreachable."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from tests.support.services import free_port

from rocketdbaas.inventory.models import ClusterStatus, Server
from rocketdbaas.telemetry.models import CollectionResult, CollectionRun, Outcome, RunStatus
from rocketdbaas.telemetry.tests.conftest import make_cluster


@pytest.fixture
def fleet(db):
    closed = free_port()
    return {
        "orders": make_cluster("orders", members=[("orders-db1", closed), ("orders-db2", closed)]),
        "events": make_cluster("events", dbms_type="mongodb", members=[("events-rs1", closed)]),
    }


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def test_collect_queues_a_run_that_records_every_server(
    dba_api, fleet, immediate_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = dba_api.post("/api/PostgreSQL/collect", json={"cluster": "orders"})
    assert r.status_code == 202, r.content
    queued = r.json()
    assert (queued["status"], queued["cluster"], queued["requestedBy"]) == ("pending", "orders", "dave-dba")

    r = dba_api.get(f"/api/postgresql/collectionRuns/{queued['id']}")
    assert r.status_code == 200
    run = r.json()
    assert (run["status"], run["serversTotal"], run["serversFailed"]) == ("finished", 2, 2)
    assert [(x["serverName"], x["outcome"]) for x in run["results"]] == [
        ("orders-db1", "unreachable"),
        ("orders-db2", "unreachable"),
    ]
    assert "connection refused" in run["results"][0]["error"]

    listed = dba_api.get("/api/postgresql/collectionRuns").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == queued["id"]
    # A PostgreSQL run is not a MongoDB one.
    assert dba_api.get(f"/api/mongodb/collectionRuns/{queued['id']}").status_code == 404


def test_collect_without_a_body_covers_the_type(
    dba_api, fleet, immediate_tasks, django_capture_on_commit_callbacks, settings
):
    # The MongoDB driver keeps retrying a closed port until its selection timeout.
    settings.DB_CONNECT_TIMEOUT_SECONDS = 0.5
    with django_capture_on_commit_callbacks(execute=True):
        r = dba_api.post("/api/mongodb/collect", data="")  # no body at all
    assert r.status_code == 202, r.content
    run = CollectionRun.objects.get()
    assert (run.status, run.dbms_type, run.servers_total) == (RunStatus.FINISHED, "mongodb", 1)
    assert CollectionResult.objects.get().outcome in (Outcome.UNREACHABLE, Outcome.TIMEOUT)


def test_collect_task_is_enqueued_on_the_configured_backend(
    dba_api, fleet, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        r = dba_api.post("/api/postgresql/collect", data="")
    assert r.status_code == 202
    job = DBTaskResult.objects.get()
    assert job.task_path == "rocketdbaas.telemetry.tasks.run_collection"
    assert job.args_kwargs["args"] == [r.json()["id"]]
    assert CollectionRun.objects.get().status == RunStatus.PENDING


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/postgresql/collect", {"cluster": "nope"}, 422),
        ("/api/postgresql/collect", {"cluster": "events"}, 422),  # a MongoDB cluster
        ("/api/postgresql/collect", {"includePool": "sometimes"}, 422),
        ("/api/oracle/collect", {}, 404),
        ("/api/postgresql/collect", {"cluster": "retired"}, 409),
    ],
)
def test_collect_bad_input_queues_nothing(dba_api, fleet, path, body, status):
    make_cluster("retired").__class__.objects.filter(name="retired").update(
        status=ClusterStatus.DECOMMISSIONED
    )
    r = dba_api.post(path, json=body)
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/problem+json"
    assert CollectionRun.objects.count() == 0


@pytest.mark.parametrize(
    ("client", "post_status", "get_status"),
    [("viewer_api", 403, 200), ("readonly_api", 403, 200), ("owner_api", 403, 200), ("anon_api", 401, 401)],
)
def test_collect_permissions(request, fleet, client, post_status, get_status):
    api = request.getfixturevalue(client)
    assert api.post("/api/postgresql/collect", json={}).status_code == post_status
    assert CollectionRun.objects.count() == 0
    assert api.get("/api/postgresql/collectionRuns").status_code == get_status


def test_unknown_run_is_404(viewer_api, fleet):
    assert viewer_api.get("/api/postgresql/collectionRuns/424242").status_code == 404


def test_command_prints_a_progress_line_per_server(fleet):
    out = StringIO()
    call_command("collect", "--dbms", "postgresql", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("[1/2] orders-db") and "connection refused" in lines[0]
    assert lines[1].startswith("[2/2] ")
    assert lines[2].startswith(
        f"Collection #{CollectionRun.objects.get().pk} finished: 0 ok, 2 failed of 2 servers"
    )


def test_command_rejects_unknown_scope(fleet):
    with pytest.raises(CommandError, match="No cluster"):
        call_command("collect", "--cluster", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="mongodb cluster"):
        call_command("collect", "--cluster", "events", "--dbms", "postgresql", stdout=StringIO())
    assert CollectionRun.objects.count() == 0


def test_a_name_that_does_not_resolve_is_unreachable(db):
    make_cluster("ghost", members=[("ghost-db1.invalid", 5432)])
    Server.objects.filter(name="ghost-db1.invalid").update(host="")  # connect by name
    out = StringIO()
    call_command("collect", "--cluster", "ghost", stdout=out)
    result = CollectionResult.objects.get()
    assert (result.outcome, result.error) == (Outcome.UNREACHABLE, "unreachable: host name not found")
