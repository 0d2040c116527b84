"""A small fleet whose report numbers are worked out by hand in the tests.

PostgreSQL (the fleet the tests report on):
  billing (cost centre CC-100, owned by olga-owner)
    billing-prod-pg  prod  active    created 2026-01-10  bp1 4c/16G/100G primary 15.4 rhel 9.2
                                                         bp2 4c/16G/100G replica 15.4 rhel 9.4
    billing-dev-pg   dev   active    created 2026-03-05  bd1 2c/8G/50G   primary 15.8 rhel 9.4
  crm (cost centre CC-200)
    crm-prod-pg      prod  active    created 2025-12-01  cp1, cp2, cp3 8c/32G/200G (15.10, 15.10, 15.9)
    crm-uat-pg       uat   building  created 2026-04-01  cu1 2c/4G/20G  primary 15.10 rhel 9.4
                     (not in the fleet until it goes active: never counted)
    crm-old-pg       prod  decommissioned (no servers)
  pool1: a Free spare (never counted)
MongoDB (must never appear in PostgreSQL reports):
    billing-prod-mongo  prod  active  bm1 4c/16G/100G
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.inventory.models import Application, Cluster, ClusterStatus, PoolStatus, Server

GIB = 1024**3


def at(text: str) -> datetime:
    """'2026-05-15 12:00' as an aware UTC datetime."""
    fmt = "%Y-%m-%d %H:%M" if " " in text else "%Y-%m-%d"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


@dataclass
class Fleet:
    billing: Application
    crm: Application
    clusters: dict[str, Cluster]
    servers: dict[str, Server]


def make_cluster(name, app, env, *, dbms_type="postgresql", status=ClusterStatus.ACTIVE, created=None):
    cluster = Cluster.objects.create(
        name=name, dbms_type=dbms_type, application=app, environment=env, status=status
    )
    if created:
        Cluster.objects.filter(pk=cluster.pk).update(created_at=at(created))
    return cluster


def make_server(
    name,
    cluster,
    cpu,
    ram,
    disk,
    *,
    role="primary",
    db="15.10",
    os="rhel 9.4",
    dbms_type="postgresql",
    created="2025-01-01",
):
    server = Server.objects.create(
        name=name,
        dbms_type=dbms_type,
        cpu=cpu,
        ram=ram,
        db_gigs=disk,
        cluster=cluster,
        status=PoolStatus.USED if cluster else PoolStatus.FREE,
        role=role if cluster else "",
        db_version=db,
        os_version=os,
    )
    Server.objects.filter(pk=server.pk).update(created_at=at(created))
    return server


def activity(
    kind, cluster, when, *, planned=False, ticket="", server=None, corrects=None, dbms_type="postgresql"
):
    return Activity.objects.create(
        dbms_type=dbms_type,
        type=kind,
        cluster=cluster,
        server=server,
        occurred_at=at(when),
        planned=planned,
        ticket_url=ticket,
        summary=f"{kind} of {cluster.name}",
        corrects=corrects,
    )


def correction(original, *, planned=None, ticket=""):
    return Activity.objects.create(
        dbms_type=original.dbms_type,
        type=ActivityType.CORRECTION,
        cluster=original.cluster,
        server=original.server,
        occurred_at=at("2026-06-10"),
        planned=planned,
        ticket_url=ticket,
        summary="correction",
        corrects=original,
    )


@pytest.fixture
def fleet(db, owner_user) -> Fleet:
    billing = Application.objects.create(name="billing", cost_centre="CC-100")
    billing.owners.add(owner_user)
    crm = Application.objects.create(name="crm", cost_centre="CC-200")
    c = {
        "billing-prod-pg": make_cluster("billing-prod-pg", billing, "prod", created="2026-01-10"),
        "billing-dev-pg": make_cluster("billing-dev-pg", billing, "dev", created="2026-03-05"),
        "crm-prod-pg": make_cluster("crm-prod-pg", crm, "prod", created="2025-12-01"),
        "crm-uat-pg": make_cluster(
            "crm-uat-pg", crm, "uat", status=ClusterStatus.BUILDING, created="2026-04-01"
        ),
        "crm-old-pg": make_cluster(
            "crm-old-pg", crm, "prod", status=ClusterStatus.DECOMMISSIONED, created="2024-01-01"
        ),
        "billing-prod-mongo": make_cluster(
            "billing-prod-mongo", billing, "prod", dbms_type="mongodb", created="2025-01-01"
        ),
    }
    s = {
        "bp1": make_server("bp1", c["billing-prod-pg"], 4, 16, 100, db="15.4", os="rhel 9.2"),
        "bp2": make_server("bp2", c["billing-prod-pg"], 4, 16, 100, role="replica", db="15.4"),
        "bd1": make_server("bd1", c["billing-dev-pg"], 2, 8, 50, db="15.8"),
        "cp1": make_server("cp1", c["crm-prod-pg"], 8, 32, 200),
        "cp2": make_server("cp2", c["crm-prod-pg"], 8, 32, 200, role="replica"),
        "cp3": make_server("cp3", c["crm-prod-pg"], 8, 32, 200, role="replica", db="15.9"),
        "cu1": make_server("cu1", c["crm-uat-pg"], 2, 4, 20, created="2026-06-01"),
        "pool1": make_server("pool1", None, 64, 512, 4000),
        "bm1": make_server(
            "bm1", c["billing-prod-mongo"], 4, 16, 100, dbms_type="mongodb", db="7.0.12", os="rhel 9.4"
        ),
    }
    return Fleet(billing, crm, c, s)
