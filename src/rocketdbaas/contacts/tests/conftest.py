"""A small fleet (two applications, their clusters and servers) and patch events about it."""

import itertools

import pytest

from rocketdbaas.contacts.models import ApplicationContact, Contact, NotificationEvent
from rocketdbaas.contacts.notifications import ApplicationServers, PatchEvent, ServerOutcome
from rocketdbaas.dbms import DbmsType
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server, ServerRole

_run_ids = itertools.count(1000)


def make_application(name: str, owners=()) -> Application:
    application = Application.objects.create(name=name)
    application.owners.set(owners)
    return application


def make_cluster(application: Application, name: str, servers: int = 2) -> Cluster:
    cluster = Cluster.objects.create(name=name, dbms_type=DbmsType.POSTGRESQL, application=application)
    for i in range(servers):
        Server.objects.create(
            name=f"{name}-{i + 1}",
            dbms_type=DbmsType.POSTGRESQL,
            cpu=4,
            ram=16,
            db_gigs=100,
            status=PoolStatus.USED,
            cluster=cluster,
            role=ServerRole.PRIMARY if i == 0 else ServerRole.REPLICA,
            db_version="16.3",
        )
    return cluster


def make_contact(email: str, name: str | None = None, **extra) -> Contact:
    return Contact.objects.create(name=name or email.split("@")[0].title(), email=email, **extra)


def link(application: Application, contact: Contact, **extra) -> ApplicationContact:
    return ApplicationContact.objects.create(application=application, contact=contact, **extra)


def patch_event(
    event: NotificationEvent,
    clusters,
    *,
    run_id: int | None = None,
    outcome: str = "pending",
    failed_server: str = "",
    run_status: str = "running",
) -> PatchEvent:
    """An event about these clusters' servers, grouped by application the way the adapter does."""
    run_id = run_id if run_id is not None else next(_run_ids)
    by_app: dict[int, list[ServerOutcome]] = {}
    for cluster in clusters:
        for server in cluster.servers.order_by("name"):
            by_app.setdefault(cluster.application_id, []).append(
                ServerOutcome(
                    cluster=cluster.name,
                    server=server.name,
                    outcome="failed" if server.name == failed_server else outcome,
                    version_before="16.3",
                    version_after="16.4" if outcome == "succeeded" else "",
                    exit_code=1 if server.name == failed_server else None,
                )
            )
    key = f"patch-run:{run_id}:{event.value}" + (f":server:{failed_server}" if failed_server else "")
    return PatchEvent(
        event=event,
        key=key,
        run_id=run_id,
        dbms_type=DbmsType.POSTGRESQL,
        patch_type="DB",
        patch_version="16.4",
        run_status=run_status,
        run_url=f"http://rocketdbaas.test/patching/runs/{run_id}/",
        applications=tuple(ApplicationServers(app_id, tuple(servers)) for app_id, servers in by_app.items()),
        failed_server=failed_server,
    )


@pytest.fixture
def fleet(db, owner_user):
    """shop (owned by olga-owner) with two clusters, billing with one; no contacts yet."""
    shop = make_application("shop", owners=[owner_user])
    billing = make_application("billing")
    return {
        "shop": shop,
        "billing": billing,
        "shop_db": make_cluster(shop, "shop-db"),
        "shop_reports": make_cluster(shop, "shop-reports", servers=1),
        "billing_db": make_cluster(billing, "billing-db"),
    }
