"""The cluster page and the cluster detail API show each section from the same rows."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from rocketdbaas.core.sections import cluster_sections
from rocketdbaas.intake.models import IntakeRequest
from rocketdbaas.inventory.models import Cluster

# How the API names each section's rows; the page marks the same rows with data-row.
API_ROWS = {
    "databases": lambda d: [db["name"] for db in d["databases"]],
    "activities": lambda d: [str(a["id"]) for a in d["recentActivities"]],
    "contacts": lambda d: [str(c["id"]) for c in d["contacts"]],
    "patching": lambda d: [f"{h['runId']}:{h['server']}" for h in d["patching"]["history"]],
    "backups": lambda d: [str(b["id"]) for b in d["backups"]],
    "intake-requests": lambda d: [r["reference"] for r in d["intakeRequests"]],
}

SECTION = re.compile(r'<section class="card panel" data-panel="(?P<key>[^"]+)">(?P<body>.*?)</section>', re.S)
ROW = re.compile(r'data-row="([^"]*)"')


def page_rows(html: str) -> dict[str, list[str]]:
    return {m["key"]: ROW.findall(m["body"]) for m in SECTION.finditer(html)}


@pytest.mark.django_db
def test_page_and_api_show_the_same_rows_in_the_same_order(client, viewer_user, viewer_api):
    call_command("demo", stdout=StringIO())
    # The demo cluster with patch history; the demo's intake requests were built for no cluster.
    cluster = Cluster.objects.get(dbms_type="postgresql", name="pg-payments-uat")
    IntakeRequest.objects.update(cluster=cluster)

    client.force_login(viewer_user)
    page = client.get(f"/clusters/postgresql/{cluster.name}/")
    assert page.status_code == 200
    on_page = page_rows(page.content.decode())
    detail = viewer_api.get(f"/api/postgresql/Cluster/{cluster.name}").json()

    keys = [s.key for s in cluster_sections()]
    assert sorted(keys) == sorted(API_ROWS), "every section says how its rows are named in the API"
    assert list(on_page) == keys
    for key in keys:
        rows = API_ROWS[key](detail)
        assert rows, f"the demo cluster has no {key} rows to compare"
        assert on_page[key] == rows, key
    # Both capped by the same constant, not by two different ones.
    assert len(on_page["backups"]) == 20 and len(on_page["activities"]) > 10
