"""A realistic demo fleet: applications, PostgreSQL and MongoDB clusters, and a spare pool."""

from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import Application, Cluster, Server

APPLICATIONS = [
    ("payments", "Card payments and settlement", "CC-1010"),
    ("orders", "Order capture and fulfilment", "CC-2040"),
    ("customer-portal", "Customer self-service portal", "CC-3300"),
    ("analytics", "Reporting warehouse feeds", "CC-4500"),
]

# (cluster, application, environment, dbms version, topology, [(role, cpu, ram, dbGigs, datacenter)])
POSTGRESQL_CLUSTERS = [
    (
        "pg-payments-prod",
        "payments",
        "prod",
        "16.4",
        "primary-replica",
        [
            ("primary", 16, 128, 2000, "dc1"),
            ("replica", 16, 128, 2000, "dc1"),
            ("replica", 16, 128, 2000, "dc2"),
        ],
    ),
    (
        "pg-payments-uat",
        "payments",
        "uat",
        "16.4",
        "primary-replica",
        [("primary", 4, 32, 500, "dc1"), ("replica", 4, 32, 500, "dc1")],
    ),
    (
        "pg-orders-prod",
        "orders",
        "prod",
        "15.8",
        "primary-replica",
        [("primary", 8, 64, 1000, "dc1"), ("replica", 8, 64, 1000, "dc2")],
    ),
    ("pg-analytics-dev", "analytics", "dev", "16.2", "single", [("primary", 4, 16, 250, "dc2")]),
]
MONGODB_CLUSTERS = [
    (
        "mongo-orders-prod",
        "orders",
        "prod",
        "7.0.14",
        "replicaset",
        [
            ("primary", 8, 64, 1500, "dc1"),
            ("secondary", 8, 64, 1500, "dc1"),
            ("secondary", 8, 64, 1500, "dc2"),
        ],
    ),
    (
        "mongo-portal-prod",
        "customer-portal",
        "prod",
        "6.0.18",
        "replicaset",
        [("primary", 4, 32, 400, "dc1"), ("secondary", 4, 32, 400, "dc2"), ("arbiter", 1, 2, 10, "dc3")],
    ),
    ("mongo-portal-dev", "customer-portal", "dev", "7.0.14", "replicaset", [("primary", 2, 8, 100, "dc2")]),
]
# Spare servers: (name, cpu, ram, dbGigs, datacenter)
POOL = {
    "postgresql": [
        ("pg-spare-01", 4, 16, 250, "dc1"),
        ("pg-spare-02", 4, 32, 500, "dc1"),
        ("pg-spare-03", 8, 64, 1000, "dc1"),
        ("pg-spare-04", 8, 64, 1000, "dc2"),
        ("pg-spare-05", 16, 128, 2000, "dc2"),
        ("pg-spare-06", 16, 128, 4000, "dc2"),
    ],
    "mongodb": [
        ("mongo-spare-01", 4, 32, 500, "dc1"),
        ("mongo-spare-02", 8, 64, 1500, "dc1"),
        ("mongo-spare-03", 8, 64, 1500, "dc2"),
        ("mongo-spare-04", 2, 4, 20, "dc3"),
    ],
}
OS_VERSION = "RHEL 9.4"
PORTS = {"postgresql": 5432, "mongodb": 27017}


def _registrations(dbms_type: str, clusters) -> list[services.ClusterRegistration]:
    descriptions = {name: (desc, cc) for name, desc, cc in APPLICATIONS}
    out = []
    for name, app, env, version, topology, members in clusters:
        desc, cc = descriptions[app]
        servers = [
            services.ServerSpec(
                server_name=f"{name}-{i:02d}.{dc}.example.internal",
                role=role,
                cpu=cpu,
                ram=ram,
                db_gigs=gigs,
                port=PORTS[dbms_type],
                datacenter=dc,
                os_version=OS_VERSION,
                db_version=version,
            )
            for i, (role, cpu, ram, gigs, dc) in enumerate(members, start=1)
        ]
        out.append(
            services.ClusterRegistration(
                application=services.ApplicationSpec(app, desc, cc),
                cluster=services.ClusterSpec(name, environment=env, topology=topology, db_version=version),
                servers=servers,
            )
        )
    return out


def load_fleet(stdout) -> None:
    """Idempotent: running it again adds nothing that is already there."""
    for name, desc, cc in APPLICATIONS:
        Application.objects.get_or_create(name=name, defaults={"description": desc, "cost_centre": cc})
    for dbms_type, clusters in (("postgresql", POSTGRESQL_CLUSTERS), ("mongodb", MONGODB_CLUSTERS)):
        # Only clusters not there yet: other features' demos (patching, collection) change
        # versions and sizes afterwards, and a second run must not undo that.
        present = set(
            Cluster.objects.filter(name__in=[c[0] for c in clusters]).values_list("name", flat=True)
        )
        new = [c for c in clusters if c[0] not in present]
        counts = services.register_clusters_servers(dbms_type, _registrations(dbms_type, new))
        stdout.write(
            f"{dbms_type}: {counts['clusters_created']} cluster(s) and {counts['servers_created']} server(s) added"
        )
        existing = set(
            Server.objects.filter(name__in=[s[0] for s in POOL[dbms_type]]).values_list("name", flat=True)
        )
        spares = [
            services.ServerSpec(
                server_name=name,
                cpu=cpu,
                ram=ram,
                db_gigs=gigs,
                datacenter=dc,
                port=PORTS[dbms_type],
                os_version=OS_VERSION,
            )
            for name, cpu, ram, gigs, dc in POOL[dbms_type]
            if name not in existing
        ]
        if spares:
            services.add_pool_servers(dbms_type, spares)
        stdout.write(f"{dbms_type}: {len(spares)} spare server(s) added to the pool")


def load_demo(stdout) -> None:
    """The fleet every other app's demo data builds on."""
    load_fleet(stdout)
