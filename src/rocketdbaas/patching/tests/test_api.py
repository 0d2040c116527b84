"""The patching API: inputs, permissions, control transitions (no worker runs here)."""

import pytest

from rocketdbaas.activities.models import Activity
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.patching.models import (
    ClusterPatchSettings,
    PatchRecipe,
    PatchRun,
    PatchRunCluster,
    PatchStep,
    RunStatus,
    StepOutcome,
    StepStatus,
    TargetVersion,
)
from rocketdbaas.patching.schemas import PatchingSection
from rocketdbaas.patching.services import cluster_patching

pytestmark = pytest.mark.django_db

URL = "/api/postgresql/patchRuns"


def make_cluster(name, app="shop", env="prod", servers=("db1", "db2"), status="active", dbms="postgresql"):
    application, _ = Application.objects.get_or_create(name=app)
    cluster = Cluster.objects.create(
        name=name, dbms_type=dbms, application=application, environment=env, status=status
    )
    for i, suffix in enumerate(servers):
        Server.objects.create(
            name=f"{name}-{suffix}",
            dbms_type=dbms,
            cpu=2,
            ram=4,
            db_gigs=10,
            host="127.0.0.1",
            port=1,
            status=PoolStatus.USED,
            cluster=cluster,
            role="primary" if i == 0 else "replica",
        )
    return cluster


@pytest.fixture
def fleet(db):
    PatchRecipe.objects.create(
        name="minor", dbms_type="postgresql", patch_type="DB", executor="local", command="true"
    )
    PatchRecipe.objects.create(
        name="os",
        dbms_type="postgresql",
        patch_type="OS",
        executor="local",
        command="true",
        version_command="uname -r",
    )
    return {
        "a": make_cluster("pga", env="prod"),
        "b": make_cluster("pgb", app="crm", env="dev"),
        "c": make_cluster("pgc", app="erp", env="uat"),
    }


def body(**kw):
    data = {"cluster": "pga", "patchType": "DB", "patchVersion": "15.8", "recipe": "minor"}
    data.update(kw)
    return data


def counts():
    return (PatchRun.objects.count(), PatchStep.objects.count(), PatchRunCluster.objects.count())


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    return problem


def test_start_creates_pending_run_in_batches_and_order(fleet, dba_api):
    r = dba_api.post(URL, json=body(cluster=None, selector={}, batches=[1, "50%"], maxFailures=2))
    assert r.status_code == 201, r.content
    run = r.json()
    assert run["status"] == "pending" and run["dryRun"] is False and run["maxFailures"] == 2
    assert run["createdBy"] == "dave-dba" and run["recipe"] == "minor"
    # Least critical environment first: dev is the canary, then uat and prod together.
    assert [(c["cluster"], c["batch"]) for c in run["clusters"]] == [("pgb", 1), ("pgc", 2), ("pga", 2)]
    # Inside a cluster, the inventory's replica before its primary (until live roles are read).
    assert [s["server"] for s in run["steps"]][:2] == ["pgb-db2", "pgb-db1"]
    assert run["progress"] == {
        "total": 6,
        "done": 0,
        "succeeded": 0,
        "failed": 0,
        "skipped": 0,
        "cancelled": 0,
        "inFlight": 0,
        "percent": 0,
    }
    assert all(s["outputUrl"].endswith(f"/steps/{s['id']}/output") for s in run["steps"])
    assert Activity.objects.filter(details__run=run["id"], details__action="start").count() == 1

    listed = dba_api.get(URL, status="pending").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == run["id"]
    detail = dba_api.get(f"{URL}/{run['id']}").json()
    assert detail["steps"] == run["steps"]
    step = run["steps"][0]
    out = dba_api.get(step["outputUrl"]).json()
    assert out == {
        "runId": run["id"],
        "stepId": step["id"],
        "server": "pgb-db2",
        "status": "pending",
        "output": "",
        "truncated": False,
    }


def test_type_in_url_is_case_insensitive_and_unknown_is_404(fleet, dba_api):
    assert dba_api.get("/api/PostgreSQL/patchRuns/").status_code == 200
    assert_problem(dba_api.post("/api/oracle/patchRuns", json=body()), 404)


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (body(cluster="nope"), 422, "clusters"),
        (body(cluster=None, clusters=["pga", "nope"]), 422, "clusters"),
        (body(cluster=None, clusters=["pga", "pga"]), 422, "clusters"),
        (body(cluster=None, clusters=[]), 422, "target"),
        (body(cluster=None, selector={"application": "nobody"}), 422, "target"),
        (body(cluster=None, selector={"environment": "mars"}), 422, "selector.environment"),
        (body(cluster=None), 422, "cluster"),
        (body(clusters=["pgb"]), 422, "cluster"),
        (body(recipe="missing"), 422, "recipe"),
        (body(recipe="os"), 422, "recipe"),
        (body(patchType="OS"), 422, "recipe"),
        (body(patchType="XX"), 422, "patchType"),
        (body(patchVersion="15.8; rm -rf /"), 422, "patchVersion"),
        (body(batches=[]), 422, "batches"),
        (body(batches=[0]), 422, "batches.0"),
        (body(batches=[1, "0%"]), 422, "batches.1"),
        (body(batches=["150%"]), 422, "batches.0"),
        (body(batches=["ten"]), 422, "batches.0"),
        (body(maxFailures=0), 422, "maxFailures"),
        ({"cluster": "pga"}, 422, None),
    ],
)
def test_bad_input_is_a_problem_and_starts_nothing(fleet, dba_api, payload, status, field):
    before = counts()
    problem = assert_problem(dba_api.post(URL, json=payload), status)
    if field:
        assert field in [e["field"] for e in problem["errors"]], problem
    assert counts() == before


def test_unusable_targets_are_refused(fleet, dba_api):
    make_cluster("pgold", status="decommissioned")
    make_cluster("pgempty", servers=())
    PatchRecipe.objects.create(
        name="off", dbms_type="postgresql", patch_type="DB", command="true", active=False
    )
    ClusterPatchSettings.objects.create(cluster=fleet["a"], variables={})
    PatchRecipe.objects.create(
        name="needs-var", dbms_type="postgresql", patch_type="DB", command="upgrade {datadir}"
    )
    before = counts()
    assert "decommissioned" in str(
        assert_problem(dba_api.post(URL, json=body(cluster="pgold")), 422)["errors"]
    )
    assert "no servers" in str(assert_problem(dba_api.post(URL, json=body(cluster="pgempty")), 422)["errors"])
    assert "not active" in str(assert_problem(dba_api.post(URL, json=body(recipe="off")), 422)["errors"])
    assert "{datadir}" in str(assert_problem(dba_api.post(URL, json=body(recipe="needs-var")), 422)["errors"])
    mongo = make_cluster("mg1", dbms="mongodb")
    assert mongo.dbms_type == "mongodb"
    assert "No postgresql cluster" in str(
        assert_problem(dba_api.post(URL, json=body(cluster="mg1")), 422)["errors"]
    )
    assert counts() == before


def test_a_cluster_being_patched_is_a_conflict(fleet, dba_api):
    first = dba_api.post(URL, json=body())
    assert first.status_code == 201
    before = counts()
    problem = assert_problem(dba_api.post(URL, json=body(cluster=None, clusters=["pgb", "pga"])), 409)
    assert "pga" in problem["detail"] and problem["clusters"] == ["pga"]
    assert_problem(dba_api.post(URL, json=body(dryRun=True)), 409)
    assert counts() == before
    # Once that run is over the cluster is free again.
    assert dba_api.post(f"{URL}/{first.json()['id']}/cancel").status_code == 200
    assert dba_api.post(URL, json=body()).status_code == 201


@pytest.mark.parametrize(
    ("client", "status"),
    [("viewer_api", 403), ("readonly_api", 403), ("owner_api", 403), ("anon_api", 401)],
)
def test_only_admins_and_dbas_start_or_control_runs(fleet, request, admin_api, client, status):
    api = request.getfixturevalue(client)
    run_id = admin_api.post(URL, json=body()).json()["id"]
    before = counts()
    assert_problem(api.post(URL, json=body(cluster="pgb")), status)
    for action in ("pause", "resume", "cancel", "retryFailed"):
        assert_problem(api.post(f"{URL}/{run_id}/{action}"), status)
    assert_problem(
        api.post("/api/postgresql/patchRecipes", json={"name": "x", "patchType": "DB", "command": "true"}),
        status,
    )
    assert counts() == before
    assert PatchRun.objects.get(pk=run_id).status == RunStatus.PENDING


def test_viewers_read_and_owners_see_only_their_applications(
    fleet, admin_api, viewer_api, owner_api, owner_user
):
    a = admin_api.post(URL, json=body()).json()["id"]
    b = admin_api.post(URL, json=body(cluster="pgb")).json()["id"]
    Application.objects.get(name="crm").owners.add(owner_user)
    assert {r["id"] for r in viewer_api.get(URL).json()["items"]} == {a, b}
    assert [r["id"] for r in owner_api.get(URL).json()["items"]] == [b]
    assert_problem(owner_api.get(f"{URL}/{a}"), 404)
    assert owner_api.get(f"{URL}/{b}").status_code == 200


def test_listing_runs_is_a_constant_number_of_queries(fleet, dba_api, django_assert_max_num_queries):
    for name in ("pga", "pgb", "pgc"):
        dba_api.post(URL, json=body(cluster=name))
    with django_assert_max_num_queries(5):
        r = dba_api.get(URL)
    assert r.json()["count"] == 3
    run_id = r.json()["items"][0]["id"]
    with django_assert_max_num_queries(6):
        assert len(dba_api.get(f"{URL}/{run_id}").json()["steps"]) == 2


def test_list_filters(fleet, dba_api):
    a = dba_api.post(URL, json=body()).json()["id"]
    b = dba_api.post(URL, json=body(cluster="pgb")).json()["id"]
    dba_api.post(f"{URL}/{b}/cancel")
    assert [r["id"] for r in dba_api.get(URL, cluster="pga").json()["items"]] == [a]
    assert [r["id"] for r in dba_api.get(URL, status="cancelled").json()["items"]] == [b]
    assert [r["id"] for r in dba_api.get(URL, active="true").json()["items"]] == [a]
    assert dba_api.get(URL, patchType="OS").json()["count"] == 0
    assert_problem(dba_api.get(URL, status="bogus"), 422)


def test_cancel_pause_resume_without_a_worker(fleet, dba_api):
    run_id = dba_api.post(URL, json=body(cluster=None, clusters=["pga", "pgb"])).json()["id"]

    paused = dba_api.post(f"{URL}/{run_id}/pause").json()
    assert paused["status"] == "paused" and paused["pauseRequested"] is True
    assert_problem(dba_api.post(f"{URL}/{run_id}/pause"), 409)
    resumed = dba_api.post(f"{URL}/{run_id}/resume").json()
    assert resumed["status"] == "pending" and resumed["pauseRequested"] is False
    assert_problem(dba_api.post(f"{URL}/{run_id}/resume"), 409)

    cancelled = dba_api.post(f"{URL}/{run_id}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["finishedAt"]
    assert {s["outcome"] for s in cancelled["steps"]} == {"cancelled"}
    assert {c["status"] for c in cancelled["clusters"]} == {"cancelled"}
    assert not PatchRunCluster.objects.filter(active=True).exists()
    for action in ("pause", "resume", "cancel", "retryFailed"):
        assert_problem(dba_api.post(f"{URL}/{run_id}/{action}"), 409)
    assert_problem(dba_api.post(f"{URL}/999999/cancel"), 404)


def test_retry_failed_adds_new_steps_and_keeps_the_old_ones(fleet, dba_api):
    run_id = dba_api.post(URL, json=body()).json()["id"]
    run = PatchRun.objects.get(pk=run_id)
    first, second = run.steps.order_by("position")
    PatchStep.objects.filter(pk=first.pk).update(
        status=StepStatus.FAILED, outcome=StepOutcome.FAILED, reason="boom"
    )
    PatchStep.objects.filter(pk=second.pk).update(status=StepStatus.CANCELLED, outcome=StepOutcome.CANCELLED)
    PatchRun.objects.filter(pk=run_id).update(status=RunStatus.FAILED)
    run.clusters.update(status="failed", active=False)

    retried = dba_api.post(f"{URL}/{run_id}/retryFailed").json()
    assert retried["status"] == "running"
    # Each retry sits next to the step it retries; the old ones keep their outcome.
    assert [(s["retryOf"], s["status"], s["outcome"]) for s in retried["steps"]] == [
        (None, "failed", "failed"),
        (first.pk, "pending", ""),
        (None, "cancelled", "cancelled"),
        (second.pk, "pending", ""),
    ]
    assert PatchRunCluster.objects.get(run=run).active
    assert_problem(dba_api.post(f"{URL}/{run_id}/retryFailed"), 409)


def test_recipes_crud_and_validation(fleet, dba_api):
    url = "/api/postgresql/patchRecipes"
    new = {
        "name": "major",
        "patchType": "DB",
        "executor": "ssh",
        "command": "apt-get install -y postgresql-{version}",
    }
    r = dba_api.post(url, json=new)
    assert r.status_code == 201 and r.json()["timeoutSeconds"] == 3600
    assert_problem(dba_api.post(url, json=new), 409)
    assert_problem(
        dba_api.post(url, json={**new, "name": "os2", "patchType": "OS"}), 422
    )  # no version command
    assert_problem(dba_api.post(url, json={**new, "name": "bad name"}), 422)
    assert_problem(dba_api.post(url, json={**new, "name": "a", "executor": "telnet"}), 422)
    assert_problem(
        dba_api.post(url, json={**new, "name": "pb", "executor": "ansible", "command": "{server}.yml"}), 422
    )
    assert dba_api.patch(f"{url}/major", json={"timeoutSeconds": 60}).json()["timeoutSeconds"] == 60
    assert_problem(dba_api.patch(f"{url}/major", json={"timeoutSeconds": 0}), 422)
    assert_problem(dba_api.patch(f"{url}/nope", json={"timeoutSeconds": 5}), 404)
    assert dba_api.get(url).json()["count"] == 3
    assert dba_api.delete(f"{url}/major").status_code == 204
    dba_api.post(URL, json=body())
    assert_problem(dba_api.delete(f"{url}/minor"), 409)
    assert PatchRecipe.objects.filter(name="minor").exists()


def test_cluster_patch_settings_and_target_versions(fleet, dba_api, viewer_api):
    url = "/api/postgresql/patchSettings/pga"
    got = dba_api.get(url).json()
    assert got["primaryStrategy"] == "" and got["effectivePrimaryStrategy"] == "in_place"
    changed = dba_api.patch(
        url, json={"primaryStrategy": "switchover", "patroniUrl": "http://{host}:8008"}
    ).json()
    assert (
        changed["effectivePrimaryStrategy"] == "switchover" and changed["patroniUrl"] == "http://{host}:8008"
    )
    assert_problem(dba_api.patch(url, json={"primaryStrategy": "yolo"}), 422)
    assert_problem(dba_api.patch("/api/postgresql/patchSettings/nope", json={"maxLagBytes": 1}), 404)
    assert_problem(viewer_api.patch(url, json={"maxLagBytes": 1}), 403)
    assert ClusterPatchSettings.objects.get(cluster=fleet["a"]).primary_strategy == "switchover"

    assert dba_api.put("/api/postgresql/targetVersions/DB", json={"version": "15.9"}).status_code == 200
    assert_problem(dba_api.put("/api/postgresql/targetVersions/DB", json={"version": "15 9"}), 422)
    assert_problem(dba_api.put("/api/postgresql/targetVersions/XX", json={"version": "1"}), 422)
    assert viewer_api.get("/api/postgresql/targetVersions").json()["items"][0]["version"] == "15.9"
    assert TargetVersion.objects.get().version == "15.9"


@pytest.mark.parametrize(
    ("target", "rolled_out", "after"),
    [
        ("15.9", "15.10", "15.10"),  # numerically above
        ("15.10", "15.9", "15.10"),  # never lowered
        ("rhel 9.4", "RHEL 9.5", "RHEL 9.5"),  # the family's spelling does not matter
        ("rhel 9.4", "RHEL 9.4", "rhel 9.4"),  # the same version: kept as set
        ("8.0.0-rc3", "8.0.0", "8.0.0"),  # a release is above its release candidates
    ],
)
def test_a_successful_run_raises_the_target_in_version_order(target, rolled_out, after):
    from rocketdbaas.patching.run_state import raise_target_version

    TargetVersion.objects.create(dbms_type="postgresql", patch_type="OS", version=target)
    raise_target_version("postgresql", "OS", rolled_out)
    assert TargetVersion.objects.get().version == after


def test_cluster_detail_section(fleet, dba_api, django_assert_max_num_queries):
    run_id = dba_api.post(URL, json=body()).json()["id"]
    step = PatchStep.objects.filter(run_id=run_id).order_by("pk").first()
    PatchStep.objects.filter(pk=step.pk).update(
        status="succeeded",
        outcome="succeeded",
        version_before="15.7",
        version_after="15.8",
        started_at=step.created_at,
    )
    with django_assert_max_num_queries(3):
        data = cluster_patching(fleet["a"])
    section = PatchingSection.model_validate(data).model_dump(by_alias=True, mode="json")
    assert section["patching"]["activeRun"] == {"id": run_id, "status": "pending"}
    (entry,) = section["patching"]["history"]
    assert entry["server"] == step.server.name and entry["outcome"] == "succeeded"
    assert (entry["patchVersion"], entry["versionBefore"], entry["versionAfter"]) == ("15.8", "15.7", "15.8")


def test_partial_updates_keep_what_they_do_not_name_and_refuse_null_where_required(fleet, dba_api):
    settings_url = "/api/postgresql/patchSettings/pga"
    dba_api.patch(settings_url, json={"primaryStrategy": "switchover", "maxLagBytes": 7})
    for body in ({"primaryStrategy": None}, {"maxLagBytes": None}, {"maxLagSeconds": True}):
        assert_problem(dba_api.patch(settings_url, json=body), 422)
    kept = dba_api.patch(settings_url, json={"maxLagSeconds": 9}).json()
    assert (kept["primaryStrategy"], kept["maxLagBytes"], kept["maxLagSeconds"]) == ("switchover", 7, 9)

    url = "/api/postgresql/patchRecipes/minor"
    before = next(
        r for r in dba_api.get("/api/postgresql/patchRecipes").json()["items"] if r["name"] == "minor"
    )
    assert_problem(dba_api.patch(url, json={"command": None}), 422)
    changed = dba_api.patch(url, json={"description": "monthly"}).json()
    assert changed == {**before, "description": "monthly", "updatedAt": changed["updatedAt"]}
