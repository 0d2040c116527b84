from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.backups.models import Backup, RetentionPolicy
from rocketdbaas.backups.schemas import BackupsSection
from rocketdbaas.backups.services import cluster_backups, roll_off_backups
from rocketdbaas.inventory.models import Application

URL = "/api/postgresql/backups"
T0 = datetime(2026, 10, 1, 1, tzinfo=UTC)


def iso(dt):
    return dt.isoformat().replace("+00:00", "Z")


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


def state():
    return (
        list(
            Backup.objects.order_by("id").values_list(
                "id",
                "label",
                "status",
                "stopped_at",
                "db_size_gigs",
                "bkup_size_gigs",
                "pinned",
                "expired_at",
            )
        ),
        list(RetentionPolicy.objects.order_by("id").values_list("id", "keep_fulls", "recovery_window_days")),
        Activity.objects.count(),
    )


def full(label="F1", day=0, **extra):
    start = T0 + timedelta(days=day)
    return {
        "cluster": "pg-orders",
        "label": label,
        "backupType": "full",
        "status": "succeeded",
        "start": iso(start),
        "stop": iso(start + timedelta(hours=1)),
        "dbSizeGigs": 180.5,
        "bkupSizeGigs": 40.25,
        "tool": "pgbackrest",
        "repository": "repo1",
        **extra,
    }


def diff(label, parent, day, **extra):
    return full(label, day, backupType="differential", dependsOn=parent, bkupSizeGigs=3.0, **extra)


def incr(label, parent, day, **extra):
    return full(label, day, backupType="incremental", dependsOn=parent, bkupSizeGigs=1.0, **extra)


# --- registering ------------------------------------------------------------------------------


def test_register_is_idempotent_on_label(dba_api, orders):
    first = dba_api.post(URL, json=full(server="pg-orders-1"))
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["label"] == "F1" and body["cluster"] == "pg-orders" and body["server"] == "pg-orders-1"
    assert body["backupType"] == "full" and body["dbSizeGigs"] == 180.5 and body["bkupSizeGigs"] == 40.25
    assert body["start"] == "2026-10-01T01:00:00Z" and body["expired"] is False
    again = dba_api.post(URL, json=full(server="pg-orders-1"))
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Backup.objects.count() == 1


def test_same_label_in_another_repository_is_another_backup(dba_api, orders):
    assert dba_api.post(URL, json=full()).status_code == 201
    assert dba_api.post(URL, json=full(repository="repo2")).status_code == 201


def test_register_running_then_finish_with_patch(dba_api, orders):
    running = dba_api.post(URL, json=full(status="running", stop=None, bkupSizeGigs=None)).json()
    assert running["status"] == "running" and running["stop"] is None
    finished = dba_api.patch(
        f"{URL}/{running['id']}",
        json={"status": "succeeded", "stop": "2026-10-01T02:10:00Z", "bkupSizeGigs": 41},
    )
    assert finished.status_code == 200, finished.content
    assert finished.json()["status"] == "succeeded" and finished.json()["stop"] == "2026-10-01T02:10:00Z"
    # Repeating the finishing PATCH is harmless; changing a finished backup is a conflict.
    assert (
        dba_api.patch(f"{URL}/{running['id']}", json={"status": "succeeded", "bkupSizeGigs": 41}).status_code
        == 200
    )
    before = state()
    assert_problem(dba_api.patch(f"{URL}/{running['id']}", json={"status": "failed"}), 409)
    assert_problem(dba_api.patch(f"{URL}/{running['id']}", json={"bkupSizeGigs": 2}), 409)
    assert state() == before


def test_finishing_without_stop_stamps_now_and_failure_is_audited(dba_api, orders):
    started = timezone.now() - timedelta(minutes=5)
    running = dba_api.post(URL, json=full(status="running", stop=None, start=iso(started))).json()
    failed = dba_api.patch(f"{URL}/{running['id']}", json={"status": "failed"}).json()
    assert failed["status"] == "failed" and failed["stop"] is not None
    activity = Activity.objects.get(type=ActivityType.BACKUP)
    assert activity.planned is False and "failed" in activity.summary and activity.cluster == orders


def test_reregistering_with_another_type_or_start_conflicts(dba_api, orders):
    dba_api.post(URL, json=full())
    before = state()
    assert_problem(dba_api.post(URL, json=full(backupType="logical")), 409)
    assert_problem(dba_api.post(URL, json=full(day=1)), 409)
    assert_problem(dba_api.post(URL, json=full(bkupSizeGigs=1)), 409)  # a finished backup is settled
    assert state() == before


def test_chains(dba_api, orders):
    assert dba_api.post(URL, json=full("F1")).status_code == 201
    assert dba_api.post(URL, json=diff("D1", "F1", 1)).status_code == 201
    assert dba_api.post(URL, json=incr("I1", "D1", 2)).status_code == 201
    assert dba_api.post(URL, json=incr("I2", "I1", 3)).status_code == 201
    assert Backup.objects.get(label="I2").depends_on.label == "I1"
    body = dba_api.get(URL, cluster="pg-orders", backupType="incremental").json()
    assert [b["dependsOn"] for b in body["items"]] == ["I1", "D1"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (full(cluster="pg-nowhere"), "cluster"),
        (full(server="no-such-host"), "server"),
        (full(stop=iso(T0 - timedelta(minutes=1))), "stop"),
        (full(dbSizeGigs=-1), "dbSizeGigs"),
        (full(bkupSizeGigs=-0.5), "bkupSizeGigs"),
        (full(dbSizeGigs="NaN"), "dbSizeGigs"),
        (full(bkupSizeGigs="Infinity"), "bkupSizeGigs"),
        (full(label="x" * 201), "label"),
        (full(status="running"), "stop"),
        (full(start="2026-10-01T01:00:00"), "start"),
        (full(start="2999-01-01T00:00:00Z", stop=None, status="running"), "start"),
        (full(backupType="weekly"), "backupType"),
        (full(status="lost"), "status"),
        (full(label=""), "label"),
        (diff("D9", "NOPE", 1), "dependsOn"),
        (diff("D9", None, 1), "dependsOn"),
        (diff("D9", "D1", 3), "dependsOn"),  # a diff on a diff
        (diff("D9", "BILLING-F", 3), "dependsOn"),  # a full of another cluster
        (diff("D9", "F1", 3, repository="repo2"), "dependsOn"),  # another repository
        (diff("D9", "FAILED-F", 3), "dependsOn"),
        (incr("I9", "LOGICAL", 3), "dependsOn"),
        (full("F9", 3, dependsOn="F1"), "dependsOn"),
        (incr("I9", "D1", -1), "dependsOn"),  # parent started later
    ],
)
def test_bad_backups_are_422_and_change_nothing(dba_api, orders, billing, payload, field):
    for setup in (
        full("F1"),
        diff("D1", "F1", 1),
        full("BILLING-F", cluster="pg-billing"),
        full("FAILED-F", 2, status="failed"),
        full("LOGICAL", 2, backupType="logical"),
    ):
        assert dba_api.post(URL, json=setup).status_code == 201
    before = state()
    body = assert_problem(dba_api.post(URL, json=payload), 422)
    assert any(field in (e.get("field") or "") for e in body.get("errors", [])), body
    assert state() == before


def test_bad_patches(dba_api, orders):
    running = dba_api.post(URL, json=full(status="running", stop=None)).json()
    before = state()
    path = f"{URL}/{running['id']}"
    assert_problem(
        dba_api.patch(path, json={"status": "succeeded", "stop": iso(T0 - timedelta(hours=1))}), 422
    )
    assert_problem(dba_api.patch(path, json={"bkupSizeGigs": -3}), 422)
    assert_problem(dba_api.patch(path, json={"dbSizeGigs": -3, "status": "succeeded"}), 422)
    assert_problem(dba_api.patch(path, json={"status": "exploded"}), 422)
    assert_problem(dba_api.patch(path, json={"status": None}), 422)
    assert_problem(dba_api.patch(path, json={"details": None}), 422)
    assert_problem(dba_api.patch(path, json={"stop": "2026-10-01T05:00:00Z"}), 422)  # still running
    assert_problem(dba_api.patch(f"{URL}/999999", json={"status": "failed"}), 404)
    assert_problem(dba_api.patch(f"/api/mongodb/backups/{running['id']}", json={"status": "failed"}), 404)
    assert state() == before


@pytest.mark.parametrize("client", ["viewer_api", "readonly_api", "owner_api", "anon_api"])
def test_writes_need_dba(request, orders, client):
    api = request.getfixturevalue(client)
    backup = Backup.objects.create(
        dbms_type="postgresql", cluster=orders, label="X", backup_type="full", status="running", started_at=T0
    )
    before = state()
    for response in (
        api.post(URL, json=full()),
        api.patch(f"{URL}/{backup.pk}", json={"status": "failed"}),
        api.post(f"{URL}/{backup.pk}/pin"),
        api.put(f"{URL}/policies", json={"keepFulls": 2}),
        api.post(f"{URL}/rollOff", json={"dryRun": False}),
        api.post(f"{URL}/import", json={"cluster": "pg-orders", "tool": "pgbackrest", "data": []}),
    ):
        assert response.status_code in (401, 403), response.content
        assert response["Content-Type"].startswith("application/problem+json")
    assert state() == before


# --- listing ----------------------------------------------------------------------------------


def test_list_filters_and_pagination(viewer_api, dba_api, orders, billing):
    dba_api.post(URL, json=full("F1"))
    dba_api.post(URL, json=diff("D1", "F1", 1))
    dba_api.post(URL, json=full("F2", 2, status="failed"))
    dba_api.post(URL, json=full("B1", 3, cluster="pg-billing", repository="s3"))

    def labels(**params):
        response = viewer_api.get(URL, **params)
        assert response.status_code == 200, response.content
        return [b["label"] for b in response.json()["items"]]

    assert labels() == ["B1", "F2", "D1", "F1"]
    assert labels(cluster="pg-orders", status="succeeded") == ["D1", "F1"]
    assert labels(backupType=["full", "differential"], repository="repo1") == ["F2", "D1", "F1"]
    assert labels(since="2026-10-02T00:00:00Z", until="2026-10-04T00:00:00Z") == ["F2", "D1"]
    assert labels(expired="false", pinned="false", limit=2, offset=1) == ["F2", "D1"]
    assert viewer_api.get(URL, limit=1).json()["count"] == 4
    assert_problem(viewer_api.get(URL, cluster="pg-nowhere"), 404)
    assert_problem(viewer_api.get(URL, backupType="weekly"), 422)
    assert_problem(viewer_api.get(f"{URL}/999999"), 404)
    assert viewer_api.get(f"{URL}/{Backup.objects.get(label='D1').pk}").json()["dependsOn"] == "F1"


def test_owner_sees_own_clusters_only(owner_api, owner_user, dba_api, orders, billing):
    Application.objects.get(name="app-pg-orders").owners.add(owner_user)
    dba_api.post(URL, json=full("F1"))
    dba_api.post(URL, json=full("B1", cluster="pg-billing"))
    assert [b["label"] for b in owner_api.get(URL).json()["items"]] == ["F1"]
    assert_problem(owner_api.get(f"{URL}/{Backup.objects.get(label='B1').pk}"), 404)


def test_list_query_count_is_constant(viewer_api, orders, django_assert_max_num_queries):
    parent = None
    for i in range(40):
        parent = Backup.objects.create(
            dbms_type="postgresql",
            cluster=orders,
            label=f"L{i}",
            backup_type="incremental" if parent else "full",
            status="succeeded",
            started_at=T0 + timedelta(hours=i),
            depends_on=parent,
        )
    with django_assert_max_num_queries(4):
        assert viewer_api.get(URL, limit=100).json()["count"] == 40


def test_cluster_detail_section(orders, django_assert_num_queries):
    for i in range(25):
        Backup.objects.create(
            dbms_type="postgresql",
            cluster=orders,
            label=f"L{i:02}",
            backup_type="logical",
            status="succeeded",
            started_at=T0 + timedelta(days=i),
        )
    with django_assert_num_queries(1):
        data = cluster_backups(orders)
    section = BackupsSection.model_validate(data).model_dump(by_alias=True, mode="json")
    assert [b["label"] for b in section["backups"]][:2] == ["L24", "L23"] and len(section["backups"]) == 20


# --- pin, policies, roll-off ------------------------------------------------------------------


def test_pin_and_unpin(dba_api, orders):
    backup = dba_api.post(URL, json=full()).json()
    assert dba_api.post(f"{URL}/{backup['id']}/pin").json()["pinned"] is True
    assert dba_api.post(f"{URL}/{backup['id']}/pin").json()["pinned"] is True
    assert dba_api.post(f"{URL}/{backup['id']}/unpin").json()["pinned"] is False
    assert Activity.objects.filter(type=ActivityType.BACKUP, summary__startswith="Pinned").count() == 1
    assert_problem(dba_api.post(f"{URL}/999999/pin"), 404)


def test_policies(dba_api, viewer_api, orders):
    assert viewer_api.get(f"{URL}/policies").json() == {"default": None, "clusters": []}
    default = dba_api.put(f"{URL}/policies", json={"keepFulls": 3, "failedKeepDays": 14})
    assert default.status_code == 200, default.content
    own = dba_api.put(
        f"{URL}/policies", json={"cluster": "pg-orders", "recoveryWindowDays": 14, "minFulls": 2}
    )
    assert own.json()["recoveryWindowDays"] == 14 and own.json()["keepFulls"] is None
    replaced = dba_api.put(f"{URL}/policies", json={"cluster": "pg-orders", "keepFulls": 5})
    assert replaced.json()["keepFulls"] == 5 and replaced.json()["recoveryWindowDays"] is None
    body = viewer_api.get(f"{URL}/policies").json()
    assert body["default"]["keepFulls"] == 3 and [p["cluster"] for p in body["clusters"]] == ["pg-orders"]
    assert RetentionPolicy.objects.count() == 2
    assert viewer_api.get("/api/mongodb/backups/policies").json()["default"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"keepFulls": 2, "recoveryWindowDays": 7},
        {"keepFulls": 0},
        {"keepFulls": 2**40},
        {"keepFulls": 2, "minFulls": 2**40},
        {"recoveryWindowDays": -1},
        {"keepFulls": 2, "minFulls": 0},
        {"keepFulls": 2, "failedKeepDays": -1},
        {"cluster": "pg-nowhere", "keepFulls": 2},
    ],
)
def test_bad_policies_change_nothing(dba_api, orders, payload):
    before = state()
    assert_problem(dba_api.put(f"{URL}/policies", json=payload), 422)
    assert state() == before


def weekly_history(dba_api, weeks=4):
    """A full every week with a diff and an incremental, ending a few days ago."""
    start = timezone.now() - timedelta(days=7 * weeks)
    for w in range(weeks):
        day = start + timedelta(days=7 * w)
        f = f"F{w}"
        for payload in (
            full(f, start=iso(day), stop=iso(day + timedelta(hours=1))),
            diff(
                f"D{w}", f, 0, start=iso(day + timedelta(days=2)), stop=iso(day + timedelta(days=2, hours=1))
            ),
            incr(
                f"I{w}",
                f"D{w}",
                0,
                start=iso(day + timedelta(days=3)),
                stop=iso(day + timedelta(days=3, hours=1)),
            ),
        ):
            assert dba_api.post(URL, json=payload).status_code == 201


def test_roll_off_dry_run_then_apply(dba_api, orders):
    weekly_history(dba_api)
    dba_api.put(f"{URL}/policies", json={"cluster": "pg-orders", "keepFulls": 2})
    before = state()
    dry = dba_api.post(f"{URL}/rollOff", json={"dryRun": True})
    assert dry.status_code == 200, dry.content
    body = dry.json()
    assert body["dryRun"] is True and body["count"] == 6
    assert {i["label"] for i in body["items"]} == {"F0", "D0", "I0", "F1", "D1", "I1"}
    item = next(i for i in body["items"] if i["label"] == "I0")
    assert item["chainRoot"] == "F0" and "keepFulls=2" in item["reason"]
    assert body["reclaimedGigs"] == pytest.approx(2 * (40.25 + 3 + 1))
    assert state() == before

    applied = dba_api.post(f"{URL}/rollOff", json={"dryRun": False}).json()
    assert applied["count"] == 6 and applied["dryRun"] is False
    assert set(Backup.objects.filter(expired_at__isnull=False).values_list("label", flat=True)) == {
        "F0",
        "D0",
        "I0",
        "F1",
        "D1",
        "I1",
    }
    assert Backup.objects.get(label="F0").status == "succeeded"  # status history is untouched
    audit = Activity.objects.filter(type=ActivityType.BACKUP, summary__startswith="Roll-off")
    assert audit.count() == 1 and audit.get().cluster == orders
    assert len(audit.get().details["expired"]) == 6
    # Nothing more the second time, and no new activity.
    assert dba_api.post(f"{URL}/rollOff", json={"dryRun": False}).json()["count"] == 0
    assert audit.count() == 1
    # An expired backup can be neither parent nor pinned.
    assert_problem(dba_api.post(URL, json=diff("D9", "F1", 0, start=iso(timezone.now()))), 422)
    assert_problem(dba_api.post(f"{URL}/{Backup.objects.get(label='F1').pk}/pin"), 409)


def test_roll_off_reports_clusters_without_policy_and_bad_cluster(dba_api, orders):
    weekly_history(dba_api, weeks=2)
    body = dba_api.post(f"{URL}/rollOff", json={"dryRun": True}).json()
    assert body["clustersWithoutPolicy"] == ["pg-orders"] and body["count"] == 0
    before = state()
    assert_problem(dba_api.post(f"{URL}/rollOff", json={"cluster": "pg-nowhere"}), 422)
    assert_problem(dba_api.post(f"{URL}/rollOff", json={"dryRun": "perhaps"}), 422)
    assert state() == before


def test_roll_off_one_cluster_with_the_default_policy(dba_api, orders, billing):
    weekly_history(dba_api, weeks=3)
    dba_api.put(f"{URL}/policies", json={"keepFulls": 1})
    report = roll_off_backups("postgresql", dry_run=False, cluster="pg-billing")
    assert report.expire_count == 0
    report = roll_off_backups("postgresql", dry_run=False, cluster="pg-orders")
    assert {i.label for i in report.items} == {"F0", "D0", "I0", "F1", "D1", "I1"}


def test_pinned_backup_survives_roll_off(dba_api, orders):
    weekly_history(dba_api, weeks=3)
    dba_api.put(f"{URL}/policies", json={"keepFulls": 1})
    dba_api.post(f"{URL}/{Backup.objects.get(label='I0').pk}/pin")
    gone = {i["label"] for i in dba_api.post(f"{URL}/rollOff", json={"dryRun": False}).json()["items"]}
    assert gone == {"F1", "D1", "I1"}


def test_backups_admin_is_read_only(orders):
    from tests.support.fixtures import make_user

    superuser = make_user("root-admin", "admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    backup = Backup.objects.create(
        dbms_type="postgresql", cluster=orders, label="X", backup_type="full", status="running", started_at=T0
    )
    assert client.get("/admin/backups/backup/").status_code == 200
    assert client.get("/admin/backups/backup/add/").status_code == 403
    assert client.post(f"/admin/backups/backup/{backup.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Backup.objects.filter(pk=backup.pk).exists()
