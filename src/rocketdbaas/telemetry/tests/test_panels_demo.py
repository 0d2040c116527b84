"""The cluster page's Databases section and the demo size history."""

import json
import re
from datetime import timedelta
from io import StringIO

from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from rocketdbaas.telemetry import services
from rocketdbaas.telemetry.demo import HISTORY_DAYS, load_demo
from rocketdbaas.telemetry.models import DailySize, DatabaseInfo, SizeSample
from rocketdbaas.telemetry.sections import section
from rocketdbaas.telemetry.tests.conftest import make_cluster


def _render(cluster):
    return render_to_string(section.template, {"data": section.provider(cluster), "cluster": cluster})


def test_demo_history_feeds_the_series_and_the_cluster_panel(db):
    orders = make_cluster(
        "pg-orders-prod", members=[("pg-orders-prod-01", 5432), ("pg-orders-prod-02", 5432)]
    )
    events = make_cluster("mongo-orders-prod", dbms_type="mongodb", members=[("mongo-orders-prod-01", 27017)])
    load_demo(StringIO())
    rows = (DailySize.objects.count(), SizeSample.objects.count())
    load_demo(StringIO())  # idempotent
    assert (DailySize.objects.count(), SizeSample.objects.count()) == rows

    now = services.timezone.now()
    series = services.size_series(orders, now - timedelta(days=HISTORY_DAYS + 1), now, "day")
    names = [d["name"] for d in series["databases"]]
    assert names == ["events", "fulfilment", "orders", "postgres"]
    assert len(series["total"]) == HISTORY_DAYS + 1
    totals = [p["sizeBytes"] for p in series["total"]]
    assert totals[-1] > totals[0]  # the fleet grows
    monthly = services.size_series(orders, now - timedelta(days=HISTORY_DAYS + 1), now, "month")
    assert 6 <= len(monthly["total"]) <= 8
    assert set(DatabaseInfo.objects.filter(cluster=events).values_list("name", flat=True)) == {
        "orders",
        "fulfilment",
        "events",
        "admin",
        "config",
        "local",
    }

    with CaptureQueriesContext(connection) as queries:
        html = _render(orders)
    assert len(queries) == 4  # databases, last collection, raw samples, daily rollups
    assert re.search(r"<td class=\"mono\">orders</td>", html)
    assert "vendor/chart-4.6.1.umd.min.js" in html and "cdn" not in html.lower()
    chart = json.loads(
        re.search(r'<script id="cluster-sizes-\d+" type="application/json">(.*?)</script>', html).group(1)
    )
    assert chart["datasets"][0]["label"] == "Cluster total"
    assert len(chart["labels"]) == services.CHART_DAYS + 1


def test_panel_for_a_cluster_without_data(db):
    cluster = make_cluster("quiet", members=[("quiet-db1", 5432)])
    html = _render(cluster)
    assert "No databases recorded yet" in html and "Never collected" in html
    assert "<canvas" not in html
