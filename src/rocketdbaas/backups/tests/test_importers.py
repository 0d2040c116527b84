import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from rocketdbaas.activities.models import Activity
from rocketdbaas.backups.importers import GIB, ImportFormatError, parse_pbm, parse_pgbackrest
from rocketdbaas.backups.models import Backup

DATA = Path(__file__).parent / "data"


def load(name):
    return json.loads((DATA / name).read_text())


def test_parse_pgbackrest_sample():
    rows = parse_pgbackrest(load("pgbackrest_info.json"), stanza="orders")
    assert len(rows) == 11
    by_label = {r["label"]: r for r in rows}
    first = by_label["20261004-010000F"]
    assert first["backup_type"] == "full" and first["depends_on"] is None
    assert first["started_at"] == datetime(2026, 10, 4, 1, tzinfo=UTC)
    assert first["stopped_at"] == datetime(2026, 10, 4, 2, tzinfo=UTC)
    assert first["db_size_gigs"] == pytest.approx(182.4, abs=0.01)
    assert first["details"]["pgVersion"] == "14" and first["repository"] == "repo1"
    incr = by_label["20261011-010000F_20261015-010000I"]
    assert incr["backup_type"] == "incremental" and incr["depends_on"] == "20261011-010000F_20261014-010000D"
    assert incr["details"]["reference"] == ["20261011-010000F", "20261011-010000F_20261014-010000D"]
    assert incr["bkup_size_gigs"] == pytest.approx(0.7, abs=0.01)  # info.repository.delta
    assert by_label["20261011-010000F_20261014-010000D"]["details"]["pageChecksumError"] is True
    repo2 = [r for r in rows if r["repository"] == "repo2"]
    assert len(repo2) == 2 and repo2[0]["details"]["pgVersion"] == "15"
    assert [r["started_at"] for r in rows] == sorted(r["started_at"] for r in rows)


def test_parse_pgbackrest_needs_a_stanza_when_there_are_several():
    with pytest.raises(ImportFormatError, match="2 stanzas"):
        parse_pgbackrest(load("pgbackrest_info.json"))
    with pytest.raises(ImportFormatError, match="No stanza 'x'"):
        parse_pgbackrest(load("pgbackrest_info.json"), stanza="x")
    assert len(parse_pgbackrest(load("pgbackrest_info.json"), stanza="billing")) == 1
    with pytest.raises(ImportFormatError):
        parse_pgbackrest({"not": "an array"})
    with pytest.raises(ImportFormatError) as bad:
        parse_pgbackrest(
            [
                {
                    "name": "s",
                    "backup": [
                        {"label": "x", "type": "weird"},
                        {"label": "y", "type": "full", "timestamp": {"start": 10**20}},
                        {"label": ["z"], "type": "full", "timestamp": {"start": 1}},
                        "not an object",
                    ],
                }
            ]
        )
    assert [e["field"] for e in bad.value.errors] == ["backup.0", "backup.1", "backup.2", "backup.3"]
    odd = parse_pgbackrest(
        [{"name": "s", "backup": [{"label": "F", "type": "full", "timestamp": {"start": 1}, "info": 7}]}]
    )
    assert odd[0]["db_size_gigs"] is None


def test_parse_pbm_list_sample():
    rows = parse_pbm(load("pbm_list.json"))
    kinds = [(r["label"], r["backup_type"], r["depends_on"]) for r in rows]
    assert kinds == [
        ("2026-10-10T02:00:11Z", "logical", None),
        ("2026-10-12T02:00:09Z", "full", None),
        ("2026-10-14T02:00:10Z", "full", None),  # the base of the incremental chain
        ("2026-10-15T02:00:12Z", "incremental", "2026-10-14T02:00:10Z"),
        ("2026-10-16T02:00:08Z", "incremental", "2026-10-15T02:00:12Z"),
        ("2026-10-17T02:00:10Z", "logical", None),
    ]
    first = rows[0]
    assert first["status"] == "succeeded" and first["repository"] == "main"
    assert first["bkup_size_gigs"] == pytest.approx(61203358720 / GIB)
    assert (first["stopped_at"] - first["started_at"]).total_seconds() == 2213


def test_parse_pbm_status_sample_includes_failed_and_running():
    rows = {r["label"]: r for r in parse_pbm(load("pbm_status.json"))}
    assert len(rows) == 9
    assert rows["2026-10-11T02:00:10Z"]["status"] == "failed"
    assert "connection reset" in rows["2026-10-11T02:00:10Z"]["details"]["error"]
    assert rows["2026-10-13T02:00:09Z"]["status"] == "failed"  # cancelled
    running = rows["2026-10-17T14:30:00Z"]
    assert running["status"] == "running" and running["stopped_at"] is None
    assert running["details"]["storagePath"] == "s3://rdb-backups/mdb-catalog"
    with pytest.raises(ImportFormatError):
        parse_pbm([])
    with pytest.raises(ImportFormatError):
        parse_pbm({"snapshots": [{"name": "yesterday", "type": "logical"}]})


def test_import_through_the_api_is_idempotent(dba_api, orders):
    payload = {
        "cluster": "pg-orders",
        "tool": "pgbackrest",
        "stanza": "orders",
        "data": load("pgbackrest_info.json"),
    }
    first = dba_api.post("/api/postgresql/backups/import", json=payload)
    assert first.status_code == 200, first.content
    assert first.json()["created"] == 11
    assert Backup.objects.filter(cluster=orders).count() == 11
    chain = Backup.objects.get(label="20261011-010000F_20261015-010000I")
    assert chain.depends_on.depends_on.label == "20261011-010000F"
    activities = Activity.objects.count()
    again = dba_api.post("/api/postgresql/backups/import", json=payload).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 11)
    assert Activity.objects.count() == activities


def test_reimport_after_roll_off_changes_nothing(dba_api, orders):
    payload = {
        "cluster": "pg-orders",
        "tool": "pgbackrest",
        "stanza": "orders",
        "data": load("pgbackrest_info.json"),
    }
    dba_api.post("/api/postgresql/backups/import", json=payload)
    dba_api.put("/api/postgresql/backups/policies", json={"keepFulls": 1})
    assert dba_api.post("/api/postgresql/backups/rollOff", json={"dryRun": False}).json()["count"] == 8
    again = dba_api.post("/api/postgresql/backups/import", json=payload)
    assert again.status_code == 200, again.content
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 11)
    assert Backup.objects.filter(expired_at__isnull=False).count() == 8


def test_pbm_import_finishes_a_running_backup(dba_api, catalog):
    status = load("pbm_status.json")
    url = "/api/mongodb/backups/import"
    assert (
        dba_api.post(url, json={"cluster": "mdb-catalog", "tool": "pbm", "data": status}).json()["created"]
        == 9
    )
    for snap in status["backups"]["snapshot"]:
        if snap["status"] == "running":
            snap.update(status="done", size=63000000000, restoreTo=snap["restoreTo"] + 2300)
    result = dba_api.post(url, json={"cluster": "mdb-catalog", "tool": "pbm", "data": status}).json()
    assert (result["created"], result["updated"]) == (0, 1)
    assert Backup.objects.get(label="2026-10-17T14:30:00Z").status == "succeeded"


def test_bad_imports_change_nothing(dba_api, orders, catalog):
    url = "/api/postgresql/backups/import"
    good = load("pgbackrest_info.json")
    broken = load("pgbackrest_info.json")
    broken[0]["backup"][3]["prior"] = "20200101-000000F"  # unknown parent, after valid rows
    cases = [
        (
            "/api/postgresql/backups/import",
            {"cluster": "pg-nowhere", "tool": "pgbackrest", "stanza": "orders", "data": good},
        ),
        (url, {"cluster": "pg-orders", "tool": "pgbackrest", "data": good}),  # two stanzas
        (url, {"cluster": "pg-orders", "tool": "pgbackrest", "stanza": "orders", "data": broken}),
        (url, {"cluster": "pg-orders", "tool": "pbm", "data": load("pbm_list.json")}),  # PBM is MongoDB's
        (url, {"cluster": "pg-orders", "tool": "barman", "data": good}),
        ("/api/mongodb/backups/import", {"cluster": "mdb-catalog", "tool": "pbm", "data": {"nothing": 1}}),
    ]
    for path, payload in cases:
        response = dba_api.post(path, json=payload)
        assert response.status_code == 422, (payload.get("tool"), response.content)
        assert response["Content-Type"].startswith("application/problem+json")
    assert Backup.objects.count() == 0 and Activity.objects.count() == 0


def test_import_and_rolloff_commands(orders, catalog):
    out = StringIO()
    call_command(
        "backups",
        "import",
        "--pgbackrest",
        str(DATA / "pgbackrest_info.json"),
        "--stanza",
        "orders",
        "--cluster",
        "pg-orders",
        stdout=out,
    )
    assert "11 new" in out.getvalue()
    out = StringIO()
    call_command(
        "backups", "import", "--pbm", str(DATA / "pbm_list.json"), "--cluster", "mdb-catalog", stdout=out
    )
    assert "6 new" in out.getvalue()
    with pytest.raises(CommandError, match="No mongodb cluster"):
        call_command("backups", "import", "--pbm", str(DATA / "pbm_list.json"), "--cluster", "pg-orders")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("backups", "import", "--pbm", str(DATA / "missing.json"), "--cluster", "mdb-catalog")

    from rocketdbaas.backups.services import set_policy

    set_policy(
        dbms_type="postgresql",
        cluster=None,
        keep_fulls=1,
        recovery_window_days=None,
        min_fulls=1,
        failed_keep_days=30,
        user=None,
    )
    out = StringIO()
    call_command("backups", "rolloff", "--dry-run", "--dbms", "postgresql", stdout=out)
    text = out.getvalue()
    assert "1/1 clusters" in text and "Would expire" in text and "keepFulls=1" in text
    assert Backup.objects.filter(expired_at__isnull=False).count() == 0
    out = StringIO()
    call_command("backups", "rolloff", stdout=out)
    assert "no retention policy, skipped: mdb-catalog" in out.getvalue()
    # repo1 keeps the newest full's chain, repo2 its newest full.
    assert Backup.objects.filter(expired_at__isnull=False).count() == 8
    with pytest.raises(CommandError, match="needs --dbms"):
        call_command("backups", "rolloff", "--cluster", "pg-orders")
