"""The cluster detail merges every feature's section; checked on the demo fleet."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rocketdbaas.core.sections import cluster_sections

BASE = {
    "name", "dbmsType", "application", "environment", "status", "topology", "dbVersion",
    "description", "createdAt", "updatedAt", "servers",
}  # fmt: skip


@pytest.mark.django_db
def test_cluster_detail_carries_every_features_section(viewer_api):
    call_command("demo", stdout=StringIO())
    detail = viewer_api.get("/api/postgresql/Cluster/pg-payments-prod").json()
    fields = {info.alias or name for s in cluster_sections() for name, info in s.schema.model_fields.items()}
    assert set(detail) == BASE | fields
    assert {"contacts", "backups", "recentActivities", "patching", "databases", "lastCollected"} <= fields

    def count(name):
        with CaptureQueriesContext(connection) as ctx:
            assert viewer_api.get(f"/api/postgresql/Cluster/{name}").status_code == 200
        return len(ctx.captured_queries)

    # Sections keep to a constant number of queries: a 3-server cluster costs what a 1-server one does.
    assert count("pg-payments-prod") == count("pg-analytics-dev")
