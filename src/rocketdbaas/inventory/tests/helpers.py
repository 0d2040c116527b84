"""Helpers shared by the inventory tests."""

from rocketdbaas.activities.models import Activity
from rocketdbaas.inventory.models import Application, Cluster, Server


def db_state():
    """Everything an inventory request could change, to assert a failed one changed nothing."""
    return (
        list(
            Server.objects.order_by("name").values_list(
                "name",
                "status",
                "cluster_id",
                "role",
                "reservation_id",
                "locked_by_id",
                "cpu",
                "ram",
                "db_gigs",
            )
        ),
        list(Cluster.objects.order_by("name").values_list("name", "application_id", "status", "environment")),
        list(Application.objects.order_by("name").values_list("name", "description", "cost_centre")),
        Activity.objects.count(),
    )


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body
