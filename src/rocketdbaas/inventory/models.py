import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from rocketdbaas.accounts.scoping import VisibleQuerySet
from rocketdbaas.dbms import DbmsType

# RFC 1123 hostname (optionally fully qualified): labels of letters, digits and hyphens.
hostname_validator = RegexValidator(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
    "Enter a valid hostname (letters, digits, hyphens and dots).",
)

# Application names appear in URLs (/api/applications/{name}, /applications/{name}/), so no
# slash, and no control characters.
APPLICATION_NAME_PATTERN = r"^[^/\x00-\x1f\x7f]+$"
application_name_validator = RegexValidator(
    APPLICATION_NAME_PATTERN, "Application names cannot contain '/' or control characters."
)


class Environment(models.TextChoices):
    PROD = "prod", "Production"
    UAT = "uat", "UAT"
    QA = "qa", "QA"
    DEV = "dev", "Development"
    DR = "dr", "Disaster recovery"


class ClusterStatus(models.TextChoices):
    BUILDING = "building", "Building"
    ACTIVE = "active", "Active"
    DECOMMISSIONED = "decommissioned", "Decommissioned"


class PoolStatus(models.TextChoices):
    FREE = "Free", "Free"
    LOCKED = "Locked", "Locked"
    USED = "Used", "Used"
    RETIRED = "Retired", "Retired"


class ServerRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    REPLICA = "replica", "Replica"
    SECONDARY = "secondary", "Secondary"
    ARBITER = "arbiter", "Arbiter"
    HIDDEN = "hidden", "Hidden"
    CONFIG = "config", "Config server"
    MONGOS = "mongos", "mongos router"
    UNKNOWN = "unknown", "Unknown"


# The roles a server may have in a cluster of each DBMS type ("unknown" until detected).
ROLES_BY_DBMS_TYPE: dict[str, frozenset[str]] = {
    DbmsType.POSTGRESQL: frozenset({ServerRole.PRIMARY, ServerRole.REPLICA, ServerRole.UNKNOWN}),
    DbmsType.MONGODB: frozenset(
        {
            ServerRole.PRIMARY,
            ServerRole.SECONDARY,
            ServerRole.ARBITER,
            ServerRole.HIDDEN,
            ServerRole.CONFIG,
            ServerRole.MONGOS,
            ServerRole.UNKNOWN,
        }
    ),
}

# Every legal pool transition (DESIGN §3); anything else is a 409 naming the current state.
POOL_TRANSITIONS: dict[str, frozenset[str]] = {
    PoolStatus.FREE: frozenset({PoolStatus.LOCKED, PoolStatus.USED, PoolStatus.RETIRED}),
    PoolStatus.LOCKED: frozenset({PoolStatus.FREE, PoolStatus.USED}),
    PoolStatus.USED: frozenset({PoolStatus.FREE}),
    PoolStatus.RETIRED: frozenset(),
}


# The fleet (DESIGN §3, "Active servers"): active clusters and the Used servers of active
# clusters. A building cluster joins it when it goes active; a decommissioned one is history.
# Inventory's clustersServers and Ansible lists, telemetry's collection, patch targets and every
# report count this fleet, through the fleet() methods below.
FLEET_CLUSTER_STATUS = ClusterStatus.ACTIVE


class ApplicationQuerySet(VisibleQuerySet):
    application_path = ""


class Application(models.Model):
    """What clusters serve; has contacts, owners and a cost centre."""

    name = models.CharField(max_length=100, unique=True, validators=[application_name_validator])
    description = models.TextField(blank=True)
    cost_centre = models.CharField(max_length=50, blank=True)
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="owned_applications")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ApplicationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ClusterQuerySet(VisibleQuerySet):
    application_path = "application"

    def fleet(self):
        return self.filter(status=FLEET_CLUSTER_STATUS)


class Cluster(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[hostname_validator])
    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices, db_index=True)
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="clusters")
    environment = models.CharField(max_length=16, choices=Environment.choices, default=Environment.PROD)
    status = models.CharField(max_length=16, choices=ClusterStatus.choices, default=ClusterStatus.ACTIVE)
    topology = models.CharField(
        max_length=50, blank=True, help_text="e.g. primary-replica, replicaset, sharded"
    )
    db_version = models.CharField(max_length=50, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["dbms_type", "status"])]

    def __str__(self):
        return self.name


class ServerQuerySet(VisibleQuerySet):
    application_path = "cluster__application"

    def fleet(self):
        return self.filter(status=PoolStatus.USED, cluster__status=FLEET_CLUSTER_STATUS)

    def fits(self, *, cpu: int | None = None, ram_gb: int | None = None, disk_gb: int | None = None):
        """Servers with at least this much cpu, ram and database disk (None: any)."""
        qs = self
        if cpu is not None:
            qs = qs.filter(cpu__gte=cpu)
        if ram_gb is not None:
            qs = qs.filter(ram__gte=ram_gb)
        if disk_gb is not None:
            qs = qs.filter(db_gigs__gte=disk_gb)
        return qs

    def candidates(self, *, cpu: int, ram_gb: int, disk_gb: int, dbms: str):
        """Free servers of a DBMS type that fit, best fit first (the smallest that satisfy), in a
        total order so that pullers lock rows in a consistent order."""
        return (
            self.filter(dbms_type=dbms, status=PoolStatus.FREE)
            .fits(cpu=cpu, ram_gb=ram_gb, disk_gb=disk_gb)
            .order_by("cpu", "ram", "db_gigs", "pk")
        )


class Server(models.Model):
    """A database host: a spare in the pool, a member of a cluster, or retired (kept for history)."""

    name = models.CharField(max_length=253, unique=True, validators=[hostname_validator])
    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices, db_index=True)
    cpu = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(4096)])
    ram = models.PositiveIntegerField(help_text="GB", validators=[MinValueValidator(1)])
    db_gigs = models.PositiveIntegerField(help_text="GB of database disk", validators=[MinValueValidator(1)])
    host = models.CharField(max_length=253, blank=True, help_text="Address to connect to; the name if blank")
    port = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(65535)])
    datacenter = models.CharField(max_length=50, blank=True)
    environment = models.CharField(max_length=16, choices=Environment.choices, blank=True)
    os_version = models.CharField(max_length=100, blank=True)
    db_version = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=PoolStatus.choices, default=PoolStatus.FREE)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="servers"
    )
    role = models.CharField(max_length=16, choices=ServerRole.choices, blank=True)
    reservation_id = models.UUIDField(null=True, blank=True, db_index=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["dbms_type", "status", "cpu", "ram", "db_gigs"]),
            models.Index(fields=["status", "lease_expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="Used") | models.Q(cluster__isnull=False),
                name="used_server_has_cluster",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def address(self) -> str:
        return self.host or self.name


def new_reservation_id() -> uuid.UUID:
    return uuid.uuid4()
