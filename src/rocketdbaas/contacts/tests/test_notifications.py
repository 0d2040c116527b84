"""Patching emails end to end: queued after commit, sent by the real task worker to a real SMTP server."""

import logging
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Max, Min
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from tests.support.smtp import SmtpServer

from rocketdbaas.contacts.delivery import _retry_delay, deliver_due_notifications
from rocketdbaas.contacts.models import NotificationEvent, NotificationLog, NotificationStatus
from rocketdbaas.contacts.notifications import notify_patch_event
from rocketdbaas.contacts.tasks import deliver_notifications
from rocketdbaas.contacts.tests.conftest import (
    link,
    make_application,
    make_cluster,
    make_contact,
    patch_event,
)
from rocketdbaas.contacts.tests.test_contacts_api import assert_problem
from rocketdbaas.core.scheduler import PERIODIC_JOBS

STARTED = NotificationEvent.PATCH_STARTED
FAILED = NotificationEvent.PATCH_SERVER_FAILED
FINISHED = NotificationEvent.PATCH_FINISHED


@pytest.fixture
def db_tasks(settings):
    """Tasks go to the database queue that `rocketdbaas db_worker` works off, whatever the environment says."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def people(fleet):
    """Who is linked to what: only ana and lead (and bill for billing) should ever get mail."""
    now = timezone.now()
    people = {
        "ana": make_contact("ana@shop.example", name="Ana Shop"),
        "bob": make_contact("bob@shop.example", name="Bob NoMail"),
        "old": make_contact(
            "old@shop.example", valid_from=now - timedelta(days=30), valid_to=now - timedelta(days=1)
        ),
        "later": make_contact("later@shop.example", valid_from=now + timedelta(days=7)),
        "lead": make_contact("lead@example.com", name="DBA Lead"),
        "bill": make_contact("bill@billing.example", name="Bill"),
    }
    shop, billing = fleet["shop"], fleet["billing"]
    link(shop, people["ana"], role="owner")
    link(shop, people["bob"], patching_emails=False)
    link(shop, people["old"])
    link(shop, people["later"])
    link(shop, people["lead"], role="technical")
    link(billing, people["lead"], role="technical")
    link(billing, people["bill"])
    return people


def run_worker() -> None:
    """What `rocketdbaas db_worker --batch` does: run every due task, then stop."""
    call_command("db_worker", batch=True, startup_delay=False, interval=0, verbosity=0)


def a_patch_run(fleet, run_id: int) -> None:
    """The three kinds of event a run with one failed server sends, each announced after its commit."""
    clusters = [fleet["shop_db"], fleet["shop_reports"], fleet["billing_db"]]
    notify_patch_event(patch_event(STARTED, clusters, run_id=run_id))
    notify_patch_event(patch_event(FAILED, [fleet["shop_db"]], run_id=run_id, failed_server="shop-db-2"))
    notify_patch_event(
        patch_event(
            FINISHED,
            clusters,
            run_id=run_id,
            outcome="succeeded",
            failed_server="shop-db-2",
            run_status="failed",
        )
    )


@pytest.mark.django_db
def test_one_email_per_event_application_and_recipient_and_none_twice(people, fleet):
    event = patch_event(STARTED, [fleet["shop_db"], fleet["shop_reports"], fleet["billing_db"]], run_id=7)
    assert notify_patch_event(event) == 4
    rows = NotificationLog.objects.order_by("application__name", "recipient_email")
    assert [(r.application.name, r.recipient_email, r.status) for r in rows] == [
        ("billing", "bill@billing.example", "pending"),
        ("billing", "lead@example.com", "pending"),
        ("shop", "ana@shop.example", "pending"),
        ("shop", "lead@example.com", "pending"),
    ]
    # Announcing the same event again (a retried signal, a resumed run) queues nothing new.
    assert notify_patch_event(event) == 0
    assert NotificationLog.objects.count() == 4


@pytest.mark.django_db
def test_an_application_without_reachable_contacts_gets_nothing(fleet):
    link(fleet["shop"], make_contact("quiet@shop.example"), patching_emails=False)
    assert notify_patch_event(patch_event(STARTED, [fleet["shop_db"]])) == 0
    assert not NotificationLog.objects.exists()


@pytest.mark.django_db
def test_queueing_takes_the_same_queries_for_two_or_six_applications(db):
    def queries_for(n_apps: int) -> int:
        clusters = []
        for i in range(n_apps):
            app = make_application(f"app{n_apps}-{i}")
            clusters.append(make_cluster(app, f"c{n_apps}-{i}"))
            link(app, make_contact(f"a{n_apps}-{i}@example.com"))
            link(app, make_contact(f"b{n_apps}-{i}@example.com"))
        event = patch_event(STARTED, clusters)
        with CaptureQueriesContext(connection) as ctx:
            assert notify_patch_event(event) == 2 * n_apps
        return len(ctx.captured_queries)

    assert queries_for(2) == queries_for(6)


@pytest.mark.django_db(transaction=True)
def test_contacts_receive_the_run_emails_through_the_worker(
    people, fleet, smtp_server, db_tasks, caplog, owner_api
):
    caplog.set_level(logging.INFO, logger="rocketdbaas.contacts")
    a_patch_run(fleet, run_id=41)
    assert DBTaskResult.objects.filter(task_path=deliver_notifications.module_path).exists()
    run_worker()

    received = smtp_server.wait_for(7)
    by_recipient = Counter(address for mail in received for address in mail.rcpt_tos)
    assert by_recipient == {
        "ana@shop.example": 3,  # started, shop-db-2 failed, finished
        "lead@example.com": 5,  # the same three for shop, and started and finished for billing
        "bill@billing.example": 2,
    }
    for nobody in ("bob@shop.example", "old@shop.example", "later@shop.example"):
        assert smtp_server.to(nobody) == []

    ana = {mail.subject: mail for mail in smtp_server.to("ana@shop.example")}
    assert set(ana) == {
        "[RocketDBaaS] Patching started: shop - PostgreSQL DB 16.4 (run #41)",
        "[RocketDBaaS] Patching FAILED on shop-db-2: shop - PostgreSQL DB 16.4 (run #41)",
        "[RocketDBaaS] Patching failed: shop - PostgreSQL DB 16.4 (run #41)",
    }
    started = ana["[RocketDBaaS] Patching started: shop - PostgreSQL DB 16.4 (run #41)"]
    assert started.message["To"] == "Ana Shop <ana@shop.example>"
    assert "Cluster shop-db" in started.text and "Cluster shop-reports" in started.text
    assert "  - shop-db-1: pending" in started.text and "  - shop-reports-1: pending" in started.text
    assert "billing" not in started.text  # each application hears about its own clusters only
    assert "http://rocketdbaas.test/patching/runs/41/" in started.text
    assert '<a href="http://rocketdbaas.test/patching/runs/41/">' in started.html
    assert "<td>shop-reports-1</td>" in started.html

    failed = ana["[RocketDBaaS] Patching FAILED on shop-db-2: shop - PostgreSQL DB 16.4 (run #41)"]
    assert "Server shop-db-2 failed to patch." in failed.text
    assert "  - shop-db-2: failed (version 16.3 -> ?), exit code 1" in failed.text
    assert "shop-reports" not in failed.text  # only the failed server's cluster

    finished = ana["[RocketDBaaS] Patching failed: shop - PostgreSQL DB 16.4 (run #41)"]
    assert "  - shop-db-1: succeeded (version 16.3 -> 16.4)" in finished.text
    assert "Run status: failed" in finished.text

    billing_mail = [m for m in smtp_server.to("lead@example.com") if "billing" in m.subject]
    assert len(billing_mail) == 2 and all("Cluster billing-db" in m.text for m in billing_mail)

    assert set(NotificationLog.objects.values_list("status", "attempts")) == {(NotificationStatus.SENT, 1)}
    assert not NotificationLog.objects.filter(sent_at__isnull=True).exists()
    assert sum("Sent notification" in r.getMessage() for r in caplog.records) == 10

    # The log is visible through the API; an owner sees their application's part only.
    listed = owner_api.get("/api/notifications", limit=100).json()
    assert listed["count"] == 6  # shop: 3 to ana and 3 to lead
    assert {n["application"] for n in listed["items"]} == {"shop"}
    assert {n["status"] for n in listed["items"]} == {"sent"}
    one = owner_api.get(f"/api/notifications/{listed['items'][0]['id']}").json()
    assert "Patch run #41: PostgreSQL DB patch 16.4" in one["bodyText"]
    assert "<table" in one["bodyHtml"]
    billing_row = NotificationLog.objects.filter(application__name="billing").first()
    assert_problem(owner_api.get(f"/api/notifications/{billing_row.pk}"), 404)
    assert_problem(owner_api.get("/api/notifications", application="billing"), 404)

    # Nothing is left to send: another worker pass sends nothing more.
    run_worker()
    assert deliver_notifications.call() == {"sent": 0, "failed": 0, "retrying": 0}
    assert len(smtp_server.messages) == 10


@pytest.mark.django_db(transaction=True)
def test_mail_server_down_during_the_run_then_up_every_email_arrives_once(people, fleet, settings, db_tasks):
    server = SmtpServer()  # not listening yet: connections are refused
    for name, value in server.django_settings().items():
        setattr(settings, name, value)
    settings.CONTACTS_EMAIL_RETRY_BASE_SECONDS = 0.3

    a_patch_run(fleet, run_id=42)
    run_worker()
    rows = NotificationLog.objects.all()
    assert rows.count() == 10
    assert set(rows.values_list("status", flat=True)) == {NotificationStatus.PENDING}
    assert all(r.attempts >= 1 for r in rows)  # more than one if the machine is slower than the backoff
    assert all("refused" in r.last_error.lower() for r in rows)
    # The delivery task put itself back on the queue for when the retries are due.
    retries = rows.aggregate(first=Min("next_attempt_at"), last=Max("next_attempt_at"))
    assert DBTaskResult.objects.filter(
        status="READY", run_after__gte=retries["first"], run_after__lte=retries["last"]
    ).exists()

    server.start()
    try:
        deadline = time.monotonic() + 30
        while NotificationLog.objects.exclude(status=NotificationStatus.SENT).exists():
            assert time.monotonic() < deadline, list(NotificationLog.objects.values("status", "last_error"))
            run_worker()
            time.sleep(0.05)
        received = Counter((address, mail.subject) for mail in server.messages for address in mail.rcpt_tos)
        expected = Counter(NotificationLog.objects.values_list("recipient_email", "subject"))
        assert received == expected and set(received.values()) == {1}
        assert all(r.attempts >= 2 and r.last_error == "" for r in NotificationLog.objects.all())

        run_worker()
        deliver_due_notifications()
        assert len(server.messages) == 10
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_email_exactly_once(smtp_server, db):
    app = make_application("busy")
    cluster = make_cluster(app, "busy-db", servers=1)
    for i in range(30):
        link(app, make_contact(f"person{i}@busy.example"))
    assert notify_patch_event(patch_event(STARTED, [cluster], run_id=99)) == 30

    errors: list[BaseException] = []

    def worker():
        try:
            deliver_due_notifications(batch_size=4)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    received = smtp_server.wait_for(30)
    assert len(received) == 30
    assert len({m.message["Message-ID"] for m in received}) == 30
    assert sorted(a for m in received for a in m.rcpt_tos) == sorted(
        f"person{i}@busy.example" for i in range(30)
    )
    assert set(NotificationLog.objects.values_list("status", "attempts")) == {(NotificationStatus.SENT, 1)}


@pytest.mark.django_db
def test_a_recipient_refused_for_good_is_marked_failed_and_not_retried(fleet, smtp_server):
    link(fleet["shop"], make_contact("ana@shop.example"))
    link(fleet["shop"], make_contact("gone@shop.example"))
    smtp_server.rejected.add("gone@shop.example")
    notify_patch_event(patch_event(STARTED, [fleet["shop_db"]]))

    assert deliver_due_notifications().__dict__ == {"sent": 1, "failed": 1, "retrying": 0}
    gone = NotificationLog.objects.get(recipient_email="gone@shop.example")
    assert gone.status == NotificationStatus.FAILED and "550" in gone.last_error
    assert [m.rcpt_tos for m in smtp_server.messages] == [["ana@shop.example"]]

    NotificationLog.objects.filter(pk=gone.pk).update(next_attempt_at=timezone.now() - timedelta(hours=1))
    assert deliver_due_notifications().__dict__ == {"sent": 0, "failed": 0, "retrying": 0}


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_worker_is_sent_after_its_lease(fleet, smtp_server):
    link(fleet["shop"], make_contact("ana@shop.example"))
    notify_patch_event(patch_event(STARTED, [fleet["shop_db"]]))
    row = NotificationLog.objects.get()
    NotificationLog.objects.filter(pk=row.pk).update(
        status=NotificationStatus.SENDING, claimed_at=timezone.now()
    )
    assert deliver_due_notifications().sent == 0  # still within another worker's lease

    NotificationLog.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert deliver_due_notifications().sent == 1
    assert len(smtp_server.wait_for(1)) == 1


@pytest.mark.django_db
def test_the_default_console_backend_prints_and_logs_the_email(fleet, settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    link(fleet["shop"], make_contact("ana@shop.example"))
    notify_patch_event(patch_event(STARTED, [fleet["shop_db"]], run_id=5))
    assert deliver_due_notifications().sent == 1
    out = capsys.readouterr().out
    assert "To: Ana <ana@shop.example>" in out and "Patch run #5: PostgreSQL DB patch 16.4" in out
    assert NotificationLog.objects.get().status == NotificationStatus.SENT


def test_retry_delay_doubles_up_to_the_cap(settings):
    settings.CONTACTS_EMAIL_RETRY_BASE_SECONDS = 30
    settings.CONTACTS_EMAIL_RETRY_MAX_SECONDS = 3600
    assert [_retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


@pytest.mark.django_db
def test_notifications_api_filters_and_bad_input(viewer_api, people, fleet):
    notify_patch_event(patch_event(STARTED, [fleet["shop_db"], fleet["billing_db"]]))
    NotificationLog.objects.filter(recipient_email="bill@billing.example").update(
        status=NotificationStatus.FAILED
    )
    assert viewer_api.get("/api/notifications").json()["count"] == 4
    assert viewer_api.get("/api/notifications", application="billing").json()["count"] == 2
    failed = viewer_api.get("/api/notifications", status="failed").json()
    assert [n["recipientEmail"] for n in failed["items"]] == ["bill@billing.example"]
    assert failed["items"][0]["nextAttemptAt"] is None
    assert_problem(viewer_api.get("/api/notifications", status="lost"), 422)
    assert_problem(viewer_api.get("/api/notifications", application="nope"), 404)
    assert_problem(viewer_api.get("/api/notifications/999999"), 404)


def test_the_delivery_sweep_is_a_periodic_job():
    job = PERIODIC_JOBS[deliver_notifications.module_path]
    assert job.task is deliver_notifications and job.every == timedelta(seconds=60)
