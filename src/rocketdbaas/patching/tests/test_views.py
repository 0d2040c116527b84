"""The run list, the run page (progress, clusters, servers, output, controls) and the cluster
page's patching panel."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rocketdbaas.patching import services
from rocketdbaas.patching.models import PatchRecipe, PatchStep, RunStatus, StepOutcome, StepStatus
from rocketdbaas.patching.tests.test_api import make_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(db):
    make_cluster("web1", app="web")
    make_cluster("crm1", app="crm")
    PatchRecipe.objects.create(name="minor", dbms_type="postgresql", patch_type="DB", command="true")
    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql",
            patch_type="DB",
            patch_version="15.9",
            recipe="minor",
            clusters=["web1", "crm1"],
        )
    )
    first = run.steps.order_by("pk").first()
    PatchStep.objects.filter(pk=first.pk).update(
        status=StepStatus.PATCHING,
        output="==> patching\nhalf way <there>\n",
        role_before="replica",
        version_before="15.8",
    )
    return run


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_run_list_and_page_show_progress_and_each_server(run, viewer_user):
    client = logged_in(viewer_user)
    listing = client.get(reverse("patching:run-list", args=["postgresql"]))
    assert listing.status_code == 200
    assert f'href="{reverse("patching:run-detail", args=[run.pk])}"' in listing.text
    assert reverse("patching:run-list") == "/patching/runs/"
    assert client.get(reverse("patching:run-list")).status_code == 200
    assert client.get("/patching/oracle/runs/").status_code == 404

    page = client.get(reverse("patching:run-detail", args=[run.pk]))
    assert page.status_code == 200
    html = page.text
    assert '<progress max="100" value="0"' in html
    assert 'hx-trigger="every 2s"' in html  # live while the run is going
    for name in ("web1-db1", "web1-db2", "crm1-db1", "crm1-db2"):
        assert name in html
    assert "Pause" not in html  # viewers do not get the controls

    output = client.get(reverse("patching:step-output", args=[run.pk, run.steps.order_by("pk").first().pk]))
    assert "half way &lt;there&gt;" in output.text and 'hx-trigger="every 2s"' in output.text


def test_run_list_sorts_by_version_in_version_order(run, viewer_user):
    make_cluster("erp1", app="erp")
    newer = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql", patch_type="DB", patch_version="15.10", recipe="minor", clusters=["erp1"]
        )
    )
    listing = logged_in(viewer_user).get(reverse("patching:run-list"), {"sort": "version"}).text
    older_link = reverse("patching:run-detail", args=[run.pk])
    newer_link = reverse("patching:run-detail", args=[newer.pk])
    assert listing.index(f'href="{older_link}"') < listing.index(f'href="{newer_link}"')  # 15.9 < 15.10


def test_finished_runs_stop_polling(run, viewer_user):
    run.steps.update(status=StepStatus.SUCCEEDED, outcome=StepOutcome.SUCCEEDED)
    type(run).objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    partial = logged_in(viewer_user).get(reverse("patching:run-progress", args=[run.pk]))
    assert '<progress max="100" value="100"' in partial.text
    assert "every 2s" not in partial.text


def test_dbas_control_runs_from_the_page(run, dba_user, viewer_user):
    dba = logged_in(dba_user)
    assert "Pause" in dba.get(reverse("patching:run-detail", args=[run.pk])).text
    response = dba.post(reverse("patching:run-control", args=[run.pk, "cancel"]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.cancel_requested_at is not None
    again = dba.post(reverse("patching:run-control", args=[run.pk, "cancel"]), follow=True)
    assert "cannot be cancelled" in again.text or "cancel requested" in again.text
    assert (
        logged_in(viewer_user).post(reverse("patching:run-control", args=[run.pk, "pause"])).status_code
        == 403
    )
    assert dba.get(reverse("patching:run-control", args=[run.pk, "pause"])).status_code == 405
    assert dba.post(reverse("patching:run-control", args=[run.pk, "explode"])).status_code == 404


def test_owners_see_runs_of_their_applications_only(run, owner_user):
    from rocketdbaas.inventory.models import Application

    client = logged_in(owner_user)
    assert client.get(reverse("patching:run-detail", args=[run.pk])).status_code == 404
    Application.objects.get(name="crm").owners.add(owner_user)
    assert client.get(reverse("patching:run-detail", args=[run.pk])).status_code == 200


def test_anonymous_users_are_sent_to_log_in(run):
    response = Client().get(reverse("patching:run-detail", args=[run.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_cluster_panel_lists_each_servers_latest_patches(run, viewer_user, django_assert_max_num_queries):
    cluster = run.clusters.get(cluster__name="web1").cluster
    step = run.steps.filter(cluster=cluster).order_by("pk").first()
    PatchStep.objects.filter(pk=step.pk).update(
        status="succeeded", outcome="succeeded", started_at=timezone.now()
    )
    # A server whose step was cancelled before it started was not patched: not in its history.
    run.steps.filter(cluster=cluster).exclude(pk=step.pk).update(status="cancelled", outcome="cancelled")
    with django_assert_max_num_queries(3):
        data = services.cluster_patching(cluster)
    assert [r.server.name for r in data.servers] == ["web1-db1", "web1-db2"]
    assert {r.server.name: [s.outcome for s in r.steps] for r in data.servers} == {
        step.server.name: ["succeeded"],
        ({"web1-db1", "web1-db2"} - {step.server.name}).pop(): [],
    }
    assert data.active_run.run_id == run.pk
    page = logged_in(viewer_user).get(reverse("inventory:cluster-detail", args=["postgresql", "web1"]))
    assert page.status_code == 200 and "Patching" in page.text
