"""The patching signals, sent with real PatchRun and PatchStep rows, become patching emails."""

import logging

import pytest
from django.utils import timezone

from rocketdbaas.contacts.events import patch_event_from_run
from rocketdbaas.contacts.models import NotificationEvent, NotificationLog
from rocketdbaas.contacts.tests.conftest import link, make_contact
from rocketdbaas.patching import signals
from rocketdbaas.patching.models import (
    PatchRecipe,
    PatchRun,
    PatchRunCluster,
    PatchStep,
    PatchType,
    RunStatus,
    StepOutcome,
    StepStatus,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(fleet):
    """A run over shop-db (2 servers), shop-reports (1) and billing-db (2), all still pending."""
    recipe = PatchRecipe.objects.create(
        name="pg-minor", dbms_type="postgresql", patch_type=PatchType.DB, command="true"
    )
    run = PatchRun.objects.create(
        dbms_type="postgresql",
        patch_type=PatchType.DB,
        patch_version="16.4",
        recipe=recipe,
        status=RunStatus.RUNNING,
    )
    for position, key in enumerate(("shop_db", "billing_db", "shop_reports"), start=1):
        cluster = fleet[key]
        run_cluster = PatchRunCluster.objects.create(run=run, cluster=cluster, batch=1, position=position)
        for i, server in enumerate(cluster.servers.order_by("-name"), start=1):
            PatchStep.objects.create(
                run=run,
                run_cluster=run_cluster,
                cluster=cluster,
                server=server,
                batch=1,
                position=i,
                version_before="16.3",
            )
    return run


@pytest.fixture
def contacts(fleet):
    link(fleet["shop"], make_contact("ana@shop.example"))
    link(fleet["billing"], make_contact("bill@billing.example"))


def step(run, server_name: str) -> PatchStep:
    return run.steps.select_related("cluster", "server").get(server__name=server_name)


def finish(step: PatchStep, outcome: StepOutcome, version_after: str = "", exit_code: int | None = 0) -> None:
    step.status = StepStatus(outcome.value)
    step.outcome = outcome
    step.version_after = version_after
    step.exit_code = exit_code
    step.finished_at = timezone.now()
    step.save()


def test_the_adapter_groups_a_run_by_application_in_patch_order(run, fleet, settings):
    settings.BASE_URL = "https://dbaas.example.com/"
    finish(step(run, "shop-db-2"), StepOutcome.SUCCEEDED, "16.4")
    event = patch_event_from_run(NotificationEvent.PATCH_STARTED, run)
    assert event.key == f"patch-run:{run.pk}:patch_started"
    assert event.run_url == f"https://dbaas.example.com/patching/runs/{run.pk}/"
    assert (event.run_id, event.dbms_type, event.patch_type, event.patch_version) == (
        run.pk,
        "postgresql",
        "DB",
        "16.4",
    )
    by_app = {a.application_id: a for a in event.applications}
    assert set(by_app) == {fleet["shop"].pk, fleet["billing"].pk}
    shop = by_app[fleet["shop"].pk]
    assert [(s.cluster, s.server, s.outcome, s.version_after) for s in shop.servers] == [
        ("shop-db", "shop-db-2", "succeeded", "16.4"),
        ("shop-db", "shop-db-1", "pending", ""),
        ("shop-reports", "shop-reports-1", "pending", ""),
    ]
    assert [name for name, _ in shop.clusters] == ["shop-db", "shop-reports"]


def test_a_retried_server_shows_its_latest_step(run):
    failed = step(run, "shop-db-1")
    finish(failed, StepOutcome.FAILED, exit_code=3)
    retry = PatchStep.objects.create(
        run=run,
        run_cluster=failed.run_cluster,
        cluster=failed.cluster,
        server=failed.server,
        batch=1,
        position=failed.position,
        retry_of=failed,
    )
    finish(retry, StepOutcome.SUCCEEDED, "16.4")
    event = patch_event_from_run(NotificationEvent.PATCH_FINISHED, run)
    servers = [s for a in event.applications for s in a.servers if s.server == "shop-db-1"]
    assert [(s.outcome, s.version_after) for s in servers] == [("succeeded", "16.4")]


def test_signals_queue_emails_for_started_failed_steps_and_finished(run, fleet, contacts):
    signals.run_started.send(sender=PatchRun, run=run)
    assert sorted(NotificationLog.objects.values_list("recipient_email", flat=True)) == [
        "ana@shop.example",
        "bill@billing.example",
    ]

    ok = step(run, "billing-db-2")
    finish(ok, StepOutcome.SUCCEEDED, "16.4")
    signals.step_finished.send(sender=PatchRun, run=run, step=ok)
    skipped = step(run, "billing-db-1")
    finish(skipped, StepOutcome.SKIPPED)
    signals.step_finished.send(sender=PatchRun, run=run, step=skipped)
    assert NotificationLog.objects.count() == 2  # succeeded and skipped servers are not news

    bad = step(run, "shop-db-2")
    finish(bad, StepOutcome.FAILED, exit_code=2)
    signals.step_finished.send(sender=PatchRun, run=run, step=bad)
    failure = NotificationLog.objects.get(event=NotificationEvent.PATCH_SERVER_FAILED)
    assert failure.recipient_email == "ana@shop.example"  # billing is not told about shop's server
    assert failure.event_key == f"patch-run:{run.pk}:patch_server_failed:step:{bad.pk}"
    assert "shop-db-2: failed (version 16.3 -> ?), exit code 2" in failure.body_text

    run.status = RunStatus.FAILED
    run.finished_at = timezone.now()
    run.save()
    signals.run_finished.send(sender=PatchRun, run=run)
    signals.run_finished.send(sender=PatchRun, run=run)  # the same finish announced twice
    finished = NotificationLog.objects.filter(event=NotificationEvent.PATCH_FINISHED)
    assert sorted(finished.values_list("recipient_email", flat=True)) == [
        "ana@shop.example",
        "bill@billing.example",
    ]
    assert all(n.subject.startswith("[RocketDBaaS] Patching failed: ") for n in finished)

    # Retried and finished again: a new finish, so a new email.
    run.status = RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.save()
    signals.run_finished.send(sender=PatchRun, run=run)
    assert NotificationLog.objects.filter(event=NotificationEvent.PATCH_FINISHED).count() == 4


def test_a_dry_run_emails_nobody(run, contacts):
    run.dry_run = True
    run.save()
    signals.run_started.send(sender=PatchRun, run=run)
    run.status = RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    signals.run_finished.send(sender=PatchRun, run=run)
    assert not NotificationLog.objects.exists()


def test_a_broken_notification_never_breaks_the_patch_run(run, contacts, caplog, monkeypatch):
    def explode(event):
        raise RuntimeError("template missing")

    monkeypatch.setattr("rocketdbaas.contacts.notifications.notify_patch_event", explode)
    with caplog.at_level(logging.ERROR, logger="rocketdbaas.contacts.events"):
        signals.run_started.send(sender=PatchRun, run=run)  # does not raise
    assert "Could not queue patch_started emails" in caplog.text
    assert not NotificationLog.objects.exists()
