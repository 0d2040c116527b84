from datetime import timedelta

from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from rocketdbaas.activities.models import Activity
from rocketdbaas.backups.models import Backup
from rocketdbaas.backups.sections import section
from rocketdbaas.backups.services import set_policy

LIST = "/backups/postgresql/"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def history(cluster, weeks=3):
    start = timezone.now() - timedelta(days=7 * weeks)
    for w in range(weeks):
        day = start + timedelta(days=7 * w)
        full = Backup.objects.create(
            dbms_type="postgresql",
            cluster=cluster,
            label=f"F{w}",
            repository="repo1",
            backup_type="full",
            status="succeeded",
            started_at=day,
            stopped_at=day + timedelta(hours=1),
            bkup_size_gigs=40,
        )
        Backup.objects.create(
            dbms_type="postgresql",
            cluster=cluster,
            label=f"I{w}",
            repository="repo1",
            backup_type="incremental",
            status="succeeded",
            started_at=day + timedelta(days=1),
            stopped_at=day + timedelta(days=1, hours=1),
            depends_on=full,
            bkup_size_gigs=2,
        )


def test_list_page_filters_and_viewer_sees_no_buttons(viewer_user, orders, billing):
    history(orders)
    Backup.objects.create(
        dbms_type="postgresql",
        cluster=billing,
        label="B0",
        backup_type="logical",
        status="failed",
        started_at=timezone.now() - timedelta(days=1),
    )
    client = client_for(viewer_user)
    page = client.get(LIST)
    assert page.status_code == 200 and b"F0" in page.content and b"B0" in page.content
    assert b"Preview roll-off" not in page.content and b">Pin<" not in page.content
    one = client.get(LIST, {"cluster": "pg-billing", "status": "failed"})
    assert b"Backups of pg-billing" in one.content and b"F0" not in one.content
    assert client.get(LIST, {"cluster": "pg-nowhere"}).status_code == 200
    assert client.get("/backups/oracle/").status_code == 404
    assert client.get(f"{LIST}rolloff/preview/").status_code == 403
    assert client.post(f"{LIST}rolloff/apply/").status_code == 403
    assert client.post(f"{LIST}{Backup.objects.first().pk}/pin/").status_code == 403


def test_dba_previews_then_applies_roll_off_for_a_cluster(dba_user, orders, billing):
    history(orders)
    history(billing)
    set_policy(
        dbms_type="postgresql",
        cluster=None,
        keep_fulls=1,
        recovery_window_days=None,
        min_fulls=1,
        failed_keep_days=30,
        user=None,
    )
    client = client_for(dba_user)
    page = client.get(LIST, {"cluster": "pg-orders"})
    assert b"Preview roll-off" in page.content and b"keepFulls=1" in page.content
    preview = client.get(f"{LIST}rolloff/preview/", {"cluster": "pg-orders"}, headers={"HX-Request": "true"})
    assert preview.status_code == 200
    text = preview.content.decode()
    assert (
        "<strong>4</strong> backups would expire" in text
        and "chain of F0" in text
        and "Apply roll-off" in text
    )
    assert Backup.objects.filter(expired_at__isnull=False).count() == 0
    applied = client.post(
        f"{LIST}rolloff/apply/", {"cluster": "pg-orders", "next": f"{LIST}?cluster=pg-orders"}
    )
    assert applied.status_code == 302 and applied["Location"] == f"{LIST}?cluster=pg-orders"
    assert set(Backup.objects.filter(expired_at__isnull=False).values_list("cluster__name", flat=True)) == {
        "pg-orders"
    }
    assert Activity.objects.filter(cluster=orders, summary__startswith="Roll-off").count() == 1


def test_dba_pins_from_the_list(dba_user, orders):
    history(orders, weeks=1)
    backup = Backup.objects.get(label="F0")
    client_for(dba_user).post(f"{LIST}{backup.pk}/pin/", {"next": "https://evil.example.com/"})
    backup.refresh_from_db()
    assert backup.pinned


def test_cluster_panel(viewer_user, orders):
    history(orders, weeks=2)
    html = render_to_string(section.template, {"data": section.provider(orders), "cluster": orders})
    assert "Newest successful full" in html and "F1" in html and "no retention policy" in html
