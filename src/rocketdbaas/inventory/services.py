"""Inventory rules: applications, clusters, servers and the spare pool.

Every state change runs in one transaction with its audit rows, so a failed call changes nothing.
"""

import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from rocketdbaas.accounts.models import User
from rocketdbaas.accounts.roles import is_admin
from rocketdbaas.activities.models import ActivityType
from rocketdbaas.activities.services import record_activity
from rocketdbaas.core.config import config
from rocketdbaas.core.errors import Conflict, Invalid, NotFound
from rocketdbaas.inventory.models import (
    POOL_TRANSITIONS,
    ROLES_BY_DBMS_TYPE,
    Application,
    Cluster,
    ClusterStatus,
    PoolStatus,
    Server,
    ServerQuerySet,
    ServerRole,
    hostname_validator,
    new_reservation_id,
)

logger = logging.getLogger(__name__)

# Servers pulled in one reservation; more is a typing mistake rather than a cluster.
MAX_PULL = 100

SERVER_SPEC_FIELDS = (
    "cpu",
    "ram",
    "db_gigs",
    "host",
    "port",
    "datacenter",
    "environment",
    "os_version",
    "db_version",
)


# ---------------------------------------------------------------- inputs


@dataclass
class ServerSpec:
    server_name: str
    cpu: int
    ram: int
    db_gigs: int
    host: str = ""
    port: int | None = None
    datacenter: str = ""
    environment: str = ""
    os_version: str = ""
    db_version: str = ""
    role: str = ServerRole.UNKNOWN


@dataclass
class ApplicationSpec:
    name: str
    description: str = ""
    cost_centre: str = ""


@dataclass
class ClusterSpec:
    name: str
    environment: str = "prod"
    topology: str = ""
    db_version: str = ""
    description: str = ""
    status: str = ClusterStatus.ACTIVE


@dataclass
class Member:
    server_name: str
    role: str = ServerRole.UNKNOWN


@dataclass
class ClusterRegistration:
    application: ApplicationSpec
    cluster: ClusterSpec
    servers: list[ServerSpec] = field(default_factory=list)


@dataclass
class ReservationResult:
    reservation_id: uuid.UUID
    lease_expires_at: datetime
    locked_by: User
    servers: list[Server]


# ---------------------------------------------------------------- helpers


def _actor(user) -> User | None:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _who(user) -> str:
    actor = _actor(user)
    return actor.username if actor else "system"


def _duplicates(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for name in names:
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    return dups


def _validate_hostname(name: str, field_name: str, errors: list[dict[str, Any]]) -> None:
    try:
        hostname_validator(name)
    except ValidationError as exc:
        errors.append({"field": field_name, "message": f"{name!r}: {exc.messages[0]}"})


def _validate_role(dbms_type: str, role: str, field_name: str, errors: list[dict[str, Any]]) -> None:
    allowed = ROLES_BY_DBMS_TYPE[dbms_type]
    if role not in allowed:
        errors.append(
            {
                "field": field_name,
                "message": f"{role!r} is not a {dbms_type} role; use one of {', '.join(sorted(allowed))}.",
            }
        )


def _check_transition(server: Server, to: str) -> None:
    if to not in POOL_TRANSITIONS[server.status]:
        raise Conflict(
            f"Server {server.name} is {server.status}; it cannot become {to}.",
            serverName=server.name,
            currentStatus=server.status,
        )


# ---------------------------------------------------------------- pool


def pool_servers(dbms_type: str) -> ServerQuerySet:
    return Server.objects.filter(dbms_type=dbms_type).select_related("cluster", "locked_by")


def list_pool_servers(
    dbms_type: str,
    *,
    status: str | None = None,
    cpu: int | None = None,
    ram: int | None = None,
    db_gigs: int | None = None,
    datacenter: str | None = None,
    environment: str | None = None,
    user=None,
) -> QuerySet[Server]:
    """The pool, smallest first; Retired servers only when asked for by status."""
    qs = pool_servers(dbms_type).visible_to(user)
    qs = qs.filter(status=status) if status else qs.exclude(status=PoolStatus.RETIRED)
    qs = qs.fits(cpu=cpu, ram_gb=ram, disk_gb=db_gigs)
    if datacenter:
        qs = qs.filter(datacenter=datacenter)
    if environment:
        qs = qs.filter(environment=environment)
    return qs.order_by("cpu", "ram", "db_gigs", "name")


def get_server(dbms_type: str, name: str) -> Server:
    server = pool_servers(dbms_type).filter(name=name).first()
    if server is None:
        raise NotFound(f"No {dbms_type} server named {name!r}.")
    return server


def add_pool_servers(dbms_type: str, specs: Sequence[ServerSpec], user=None) -> list[Server]:
    """Add spare servers as Free; any duplicate name refuses the whole batch (409)."""
    names = [s.server_name for s in specs]
    errors: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        _validate_hostname(name, f"{i}.serverName", errors)
    for name in _duplicates(names):
        errors.append({"field": "serverName", "message": f"{name!r} appears more than once."})
    if errors:
        raise Invalid("Some servers are not valid.", errors=errors)
    try:
        with transaction.atomic():
            taken = sorted(Server.objects.filter(name__in=names).values_list("name", flat=True))
            if taken:
                raise Conflict(
                    f"These servers already exist: {', '.join(taken)}. Nothing was added.", serverNames=taken
                )
            Server.objects.bulk_create(
                [
                    Server(
                        name=s.server_name,
                        dbms_type=dbms_type,
                        status=PoolStatus.FREE,
                        **{f: getattr(s, f) for f in SERVER_SPEC_FIELDS},
                    )
                    for s in specs
                ]
            )
            for server in Server.objects.filter(name__in=names).order_by("pk"):
                record_activity(
                    dbms_type=dbms_type,
                    type=ActivityType.POOL_CHANGE,
                    server=server,
                    user=_actor(user),
                    summary=f"{server.name} added to the pool as Free by {_who(user)}",
                    details={"to": PoolStatus.FREE, "cpu": server.cpu, "ram": server.ram},
                )
    except IntegrityError:
        # Another request added one of these names between our check and our insert.
        raise Conflict("One of these servers was added concurrently. Nothing was added.") from None
    return list(pool_servers(dbms_type).filter(name__in=names).order_by("name"))


def retire_pool_servers(dbms_type: str, names: Sequence[str], user=None) -> list[Server]:
    """Take Free servers out of the pool for good: they become Retired, kept for history."""
    unique = list(dict.fromkeys(names))
    with transaction.atomic():
        servers = list(
            Server.objects.select_for_update().filter(dbms_type=dbms_type, name__in=unique).order_by("pk")
        )
        found = {s.name for s in servers}
        missing = [n for n in unique if n not in found]
        if missing:
            raise NotFound(f"No {dbms_type} servers named: {', '.join(missing)}.", serverNames=missing)
        busy = [s for s in servers if s.status != PoolStatus.FREE]
        if busy:
            raise Conflict(
                "Only Free servers can be removed; nothing was removed: "
                + ", ".join(f"{s.name} is {s.status}" for s in busy),
                servers=[{"serverName": s.name, "currentStatus": s.status} for s in busy],
            )
        now = timezone.now()
        Server.objects.filter(pk__in=[s.pk for s in servers]).update(
            status=PoolStatus.RETIRED, updated_at=now
        )
        for server in servers:
            record_activity(
                dbms_type=dbms_type,
                type=ActivityType.POOL_CHANGE,
                server=server,
                user=_actor(user),
                summary=f"{server.name} retired from the pool by {_who(user)}",
                details={"from": PoolStatus.FREE, "to": PoolStatus.RETIRED},
            )
    return list(pool_servers(dbms_type).filter(name__in=unique).order_by("name"))


def release_expired_leases(dbms_type: str | None = None, now: datetime | None = None) -> int:
    """Return Locked servers whose lease ran out to Free. Safe to run from many places at once."""
    now = now or timezone.now()
    qs = Server.objects.filter(status=PoolStatus.LOCKED, lease_expires_at__lte=now)
    if dbms_type:
        qs = qs.filter(dbms_type=dbms_type)
    # Every pull calls this: the common case (nothing expired) costs one indexed read, no transaction.
    if not qs.exists():
        return 0
    with transaction.atomic():
        # skip_locked: a row another transaction holds is being changed by it; leave it alone.
        expired = list(qs.select_for_update(skip_locked=True, of=("self",)).order_by("pk"))
        if not expired:
            return 0
        Server.objects.filter(pk__in=[s.pk for s in expired], status=PoolStatus.LOCKED).update(
            status=PoolStatus.FREE, reservation_id=None, locked_by=None, lease_expires_at=None, updated_at=now
        )
        for server in expired:
            record_activity(
                dbms_type=server.dbms_type,
                type=ActivityType.POOL_CHANGE,
                server=server,
                summary=f"{server.name} returned to Free: lease of reservation {server.reservation_id} expired",
                details={
                    "from": PoolStatus.LOCKED,
                    "to": PoolStatus.FREE,
                    "reservationId": str(server.reservation_id),
                    "reason": "lease expired",
                },
            )
    logger.info("Released %d server(s) whose pool lease expired", len(expired))
    return len(expired)


def pull_and_lock(
    dbms_type: str,
    number_of_servers: int,
    *,
    cpu: int,
    ram: int,
    db_gigs: int,
    user: User,
    lease_seconds: int | None = None,
) -> ReservationResult:
    """Lock `number_of_servers` Free servers for `user`, all or nothing (409 with how many match)."""
    if not 1 <= number_of_servers <= MAX_PULL:
        raise Invalid(
            f"numberOfServers must be between 1 and {MAX_PULL}.",
            errors=[{"field": "numberOfServers", "message": f"must be between 1 and {MAX_PULL}"}],
        )
    # Own transaction, so expired leases are freed even when this pull then fails.
    release_expired_leases(dbms_type)
    lease = timedelta(seconds=lease_seconds or config.POOL_LEASE_SECONDS)
    with transaction.atomic():
        now = timezone.now()
        # PostgreSQL: rows other pullers hold are skipped, never waited for, so pullers don't
        # queue behind each other or deadlock. SQLite: the IMMEDIATE transaction serialises writers.
        candidates = Server.objects.candidates(cpu=cpu, ram_gb=ram, disk_gb=db_gigs, dbms=dbms_type)
        servers = list(candidates.select_for_update(skip_locked=True, of=("self",))[:number_of_servers])
        if len(servers) < number_of_servers:
            matching = candidates.count()
            raise Conflict(
                f"Asked for {number_of_servers} Free {dbms_type} server(s) with at least {cpu} cpu, "
                f"{ram} GB ram and {db_gigs} GB dbGigs; {matching} match. Nothing was locked.",
                requested=number_of_servers,
                matching=matching,
            )
        reservation_id = new_reservation_id()
        expires = now + lease
        updated = Server.objects.filter(pk__in=[s.pk for s in servers], status=PoolStatus.FREE).update(
            status=PoolStatus.LOCKED,
            reservation_id=reservation_id,
            locked_by=user,
            lease_expires_at=expires,
            updated_at=now,
        )
        if updated != number_of_servers:  # pragma: no cover - the row locks make this impossible
            raise RuntimeError("pool rows changed under their locks")
        for server in servers:
            server.status, server.reservation_id, server.locked_by = PoolStatus.LOCKED, reservation_id, user
            server.lease_expires_at, server.updated_at = expires, now
        servers.sort(key=lambda server: server.name)
        for server in servers:
            record_activity(
                dbms_type=dbms_type,
                type=ActivityType.POOL_CHANGE,
                server=server,
                user=user,
                summary=f"{server.name} locked by {user.username} (reservation {reservation_id})",
                details={
                    "from": PoolStatus.FREE,
                    "to": PoolStatus.LOCKED,
                    "reservationId": str(reservation_id),
                    "leaseExpiresAt": expires.isoformat(),
                },
            )
    return ReservationResult(reservation_id, expires, user, servers)


def may_act_on_lock(server: Server, user) -> bool:
    return server.locked_by_id == user.pk or is_admin(user)


def set_pool_status(
    dbms_type: str,
    name: str,
    status: str,
    *,
    user,
    cluster_name: str | None = None,
    role: str | None = None,
) -> Server:
    """PATCH a pool server: Locked → Used (joining a cluster), Locked → Free, Used → Free."""
    with transaction.atomic():
        server = Server.objects.select_for_update().filter(dbms_type=dbms_type, name=name).first()
        if server is None:
            raise NotFound(f"No {dbms_type} server named {name!r}.")
        before = server.status
        if status == PoolStatus.USED and before == PoolStatus.FREE:
            raise Conflict(
                f"Server {name} is Free; pull and lock it before marking it Used.",
                serverName=name,
                currentStatus=before,
            )
        _check_transition(server, status)
        if before == PoolStatus.LOCKED and not may_act_on_lock(server, user):
            raise Conflict(
                f"Server {name} is Locked by another caller (reservation {server.reservation_id}).",
                serverName=name,
                currentStatus=before,
            )
        details: dict[str, Any] = {"from": before, "to": status}
        if status == PoolStatus.USED:
            if not cluster_name:
                raise Invalid(
                    "Name the cluster the server joins.",
                    errors=[{"field": "cluster", "message": "required when status is Used"}],
                )
            cluster = Cluster.objects.filter(dbms_type=dbms_type, name=cluster_name).first()
            if cluster is None:
                raise NotFound(f"No {dbms_type} cluster named {cluster_name!r}.")
            if cluster.status == ClusterStatus.DECOMMISSIONED:
                raise Conflict(f"Cluster {cluster_name} is decommissioned.", currentStatus=cluster.status)
            new_role = role or ServerRole.UNKNOWN
            errors: list[dict[str, Any]] = []
            _validate_role(dbms_type, new_role, "role", errors)
            if errors:
                raise Invalid("The role is not valid.", errors=errors)
            details.update(cluster=cluster.name, role=new_role, reservationId=str(server.reservation_id))
            server.cluster = cluster
            server.role = new_role
        else:
            if server.cluster_id:
                details["leftCluster"] = server.cluster.name if server.cluster else None
            server.cluster = None
            server.role = ""
        server.status = status
        server.reservation_id = None
        server.locked_by = None
        server.lease_expires_at = None
        server.save()
        record_activity(
            dbms_type=dbms_type,
            type=ActivityType.POOL_CHANGE,
            server=server,
            cluster=server.cluster,
            user=_actor(user),
            summary=f"{name} {before} → {status} by {_who(user)}",
            details=details,
        )
    return get_server(dbms_type, name)


# ---------------------------------------------------------------- applications


def list_applications(user=None) -> QuerySet[Application]:
    return Application.objects.visible_to(user).prefetch_related("owners").order_by("name")


def get_application(name: str, user=None) -> Application:
    app = list_applications(user).filter(name=name).first()
    if app is None:
        raise NotFound(f"No application named {name!r}.")
    return app


def _owners(usernames: Sequence[str]) -> list[User]:
    wanted = list(dict.fromkeys(usernames))
    users = list(User.objects.filter(username__in=wanted))
    missing = sorted(set(wanted) - {u.username for u in users})
    if missing:
        raise Invalid(
            "Unknown owners.",
            errors=[{"field": "owners", "message": f"no user named {n!r}"} for n in missing],
        )
    return users


def create_application(
    name: str, *, description: str = "", cost_centre: str = "", owners: Sequence[str] = (), user=None
) -> Application:
    owner_users = _owners(owners)
    try:
        with transaction.atomic():
            app = Application.objects.create(name=name, description=description, cost_centre=cost_centre)
            app.owners.set(owner_users)
    except IntegrityError:
        raise Conflict(f"An application named {name!r} already exists.") from None
    return get_application(name)


def update_application(name: str, changes: dict[str, Any], user=None) -> Application:
    """Update description, cost centre and/or owners (owners replaces the list)."""
    with transaction.atomic():
        app = Application.objects.select_for_update().filter(name=name).first()
        if app is None:
            raise NotFound(f"No application named {name!r}.")
        for attr in ("description", "cost_centre"):
            if changes.get(attr) is not None:
                setattr(app, attr, changes[attr])
        app.save()
        if changes.get("owners") is not None:
            app.owners.set(_owners(changes["owners"]))
    return get_application(name)


def _application_for(spec: ApplicationSpec) -> Application:
    """The named application, created from the spec if new (safe against concurrent creation)."""
    app = Application.objects.filter(name=spec.name).first()
    if app is not None:
        return app
    try:
        with transaction.atomic():
            return Application.objects.create(
                name=spec.name, description=spec.description, cost_centre=spec.cost_centre
            )
    except IntegrityError:
        return Application.objects.get(name=spec.name)


# ---------------------------------------------------------------- clusters


def create_cluster(
    dbms_type: str,
    *,
    application: ApplicationSpec,
    cluster: ClusterSpec,
    members: Sequence[Member],
    user,
    reservation_id: uuid.UUID | None = None,
) -> Cluster:
    """Build a cluster from servers this caller has Locked (or Free ones); they become Used members."""
    errors: list[dict[str, Any]] = []
    _validate_hostname(cluster.name, "cluster.name", errors)
    names = [m.server_name for m in members]
    for i, m in enumerate(members):
        _validate_role(dbms_type, m.role, f"servers.{i}.role", errors)
    for name in _duplicates(names):
        errors.append({"field": "servers", "message": f"{name!r} appears more than once."})
    if dbms_type == "postgresql" and sum(m.role == ServerRole.PRIMARY for m in members) > 1:
        errors.append({"field": "servers", "message": "a PostgreSQL cluster has at most one primary."})
    if errors:
        raise Invalid("The cluster is not valid.", errors=errors)
    try:
        with transaction.atomic():
            if Cluster.objects.filter(name=cluster.name).exists():
                raise Conflict(f"A cluster named {cluster.name!r} already exists.")
            servers = list(
                Server.objects.select_for_update().filter(dbms_type=dbms_type, name__in=names).order_by("pk")
            )
            by_name = {s.name: s for s in servers}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise NotFound(f"No {dbms_type} servers named: {', '.join(missing)}.", serverNames=missing)
            problems = []
            for s in servers:
                if s.status == PoolStatus.LOCKED:
                    if s.locked_by_id != user.pk:
                        problems.append(f"{s.name} is Locked by another caller")
                    elif reservation_id is not None and s.reservation_id != reservation_id:
                        problems.append(f"{s.name} is Locked under another reservation")
                elif s.status != PoolStatus.FREE:
                    problems.append(f"{s.name} is {s.status}")
            if problems:
                raise Conflict(
                    "Servers must be Free or Locked by you; nothing was created: " + "; ".join(problems)
                )
            app = _application_for(application)
            new = Cluster(
                name=cluster.name,
                dbms_type=dbms_type,
                application=app,
                environment=cluster.environment,
                status=ClusterStatus.ACTIVE,
                topology=cluster.topology,
                db_version=cluster.db_version,
                description=cluster.description,
            )
            new.full_clean()
            new.save()
            roles = {m.server_name: m.role for m in members}
            for s in servers:
                before = s.status
                s.status = PoolStatus.USED
                s.cluster = new
                s.role = roles[s.name]
                s.reservation_id = None
                s.locked_by = None
                s.lease_expires_at = None
                s.updated_at = timezone.now()
                record_activity(
                    dbms_type=dbms_type,
                    type=ActivityType.POOL_CHANGE,
                    server=s,
                    cluster=new,
                    user=_actor(user),
                    summary=f"{s.name} {before} → Used as {s.role} of {new.name}",
                    details={"from": before, "to": PoolStatus.USED, "role": s.role},
                )
            Server.objects.bulk_update(
                servers,
                [
                    "status",
                    "cluster",
                    "role",
                    "reservation_id",
                    "locked_by",
                    "lease_expires_at",
                    "updated_at",
                ],
            )
            record_activity(
                dbms_type=dbms_type,
                type=ActivityType.CLUSTER_CHANGE,
                cluster=new,
                user=_actor(user),
                summary=f"Cluster {new.name} created for {app.name} by {_who(user)} with {len(servers)} server(s)",
                details={"action": "created", "servers": {s.name: s.role for s in servers}},
            )
    except IntegrityError:
        raise Conflict(f"A cluster named {cluster.name!r} was created concurrently.") from None
    return new


def get_cluster(dbms_type: str, name: str, user=None) -> Cluster:
    found = (
        Cluster.objects.visible_to(user)
        .filter(dbms_type=dbms_type, name=name)
        .select_related("application")
        .first()
    )
    if found is None:
        raise NotFound(f"No {dbms_type} cluster named {name!r}.")
    return found


def register_clusters_servers(
    dbms_type: str, registrations: Sequence[ClusterRegistration], user=None
) -> dict[str, int]:
    """Upsert existing clusters and their servers in bulk; posting the same body twice changes nothing.

    Servers not listed are left alone (this registers, it does not sync). A listed server must be
    new, Free, or already a member of the same cluster.
    """
    errors: list[dict[str, Any]] = []
    cluster_names = [r.cluster.name for r in registrations]
    server_names = [spec.server_name for r in registrations for spec in r.servers]
    for name in _duplicates(cluster_names):
        errors.append({"field": "cluster.name", "message": f"cluster {name!r} appears more than once."})
    for name in _duplicates(server_names):
        errors.append({"field": "servers", "message": f"server {name!r} appears more than once."})
    for i, r in enumerate(registrations):
        _validate_hostname(r.cluster.name, f"{i}.cluster.name", errors)
        for j, spec in enumerate(r.servers):
            _validate_hostname(spec.server_name, f"{i}.servers.{j}.serverName", errors)
            _validate_role(dbms_type, spec.role, f"{i}.servers.{j}.role", errors)
    if errors:
        raise Invalid("The registration is not valid.", errors=errors)

    counts = dict(clusters_created=0, clusters_updated=0, servers_created=0, servers_updated=0, unchanged=0)
    cluster_fields = ("environment", "status", "topology", "db_version", "description")
    member_fields = (
        "role",
        "cpu",
        "ram",
        "db_gigs",
        "host",
        "port",
        "datacenter",
        "os_version",
        "db_version",
    )
    try:
        with transaction.atomic():
            apps = {
                a.name: a
                for a in Application.objects.filter(name__in={r.application.name for r in registrations})
            }
            new_apps = [
                Application(
                    name=r.application.name,
                    description=r.application.description,
                    cost_centre=r.application.cost_centre,
                )
                for r in {r.application.name: r for r in registrations}.values()
                if r.application.name not in apps
            ]
            if new_apps:
                Application.objects.bulk_create(new_apps)
                apps = {
                    a.name: a
                    for a in Application.objects.filter(name__in={r.application.name for r in registrations})
                }

            clusters = {
                c.name: c
                for c in Cluster.objects.select_for_update().filter(name__in=cluster_names).order_by("pk")
            }
            wrong_type = [c.name for c in clusters.values() if c.dbms_type != dbms_type]
            if wrong_type:
                raise Conflict(f"These clusters exist with another dbmsType: {', '.join(wrong_type)}.")
            to_create: list[Cluster] = []
            to_update: list[Cluster] = []
            changed_clusters: dict[str, str] = {}
            for r in registrations:
                app = apps[r.application.name]
                existing = clusters.get(r.cluster.name)
                if existing is None:
                    c = Cluster(name=r.cluster.name, dbms_type=dbms_type, application=app)
                    for f in cluster_fields:
                        setattr(c, f, getattr(r.cluster, f))
                    to_create.append(c)
                    changed_clusters[c.name] = "created"
                    continue
                diff = [f for f in cluster_fields if getattr(existing, f) != getattr(r.cluster, f)]
                if existing.application_id != app.pk:
                    diff.append("application")
                    existing.application = app
                for f in diff:
                    if f != "application":
                        setattr(existing, f, getattr(r.cluster, f))
                if diff:
                    existing.updated_at = timezone.now()
                    to_update.append(existing)
                    changed_clusters[existing.name] = "updated: " + ", ".join(diff)
                else:
                    counts["unchanged"] += 1
            if to_create:
                Cluster.objects.bulk_create(to_create)
            if to_update:
                Cluster.objects.bulk_update(to_update, [*cluster_fields, "application", "updated_at"])
            counts["clusters_created"] = len(to_create)
            counts["clusters_updated"] = len(to_update)
            clusters = {c.name: c for c in Cluster.objects.filter(name__in=cluster_names)}

            servers = {
                s.name: s
                for s in Server.objects.select_for_update().filter(name__in=server_names).order_by("pk")
            }
            problems = []
            new_servers: list[Server] = []
            changed_servers: list[Server] = []
            now = timezone.now()
            for r in registrations:
                c = clusters[r.cluster.name]
                for spec in r.servers:
                    s = servers.get(spec.server_name)
                    if s is None:
                        new_servers.append(
                            Server(
                                name=spec.server_name,
                                dbms_type=dbms_type,
                                status=PoolStatus.USED,
                                cluster=c,
                                environment=c.environment,
                                **{f: getattr(spec, f) for f in member_fields},
                            )
                        )
                        continue
                    if s.dbms_type != dbms_type:
                        problems.append(f"{s.name} is a {s.dbms_type} server")
                    elif s.status == PoolStatus.USED and s.cluster_id != c.pk:
                        problems.append(f"{s.name} is Used by another cluster")
                    elif s.status in (PoolStatus.LOCKED, PoolStatus.RETIRED):
                        problems.append(f"{s.name} is {s.status}")
                    if problems:
                        continue
                    diff = [f for f in member_fields if getattr(s, f) != getattr(spec, f)]
                    if s.status != PoolStatus.USED:
                        diff.append("status")
                    if not diff:
                        counts["unchanged"] += 1
                        continue
                    for f in member_fields:
                        setattr(s, f, getattr(spec, f))
                    s.status, s.cluster, s.updated_at = PoolStatus.USED, c, now
                    changed_servers.append(s)
                    changed_clusters.setdefault(c.name, "servers updated")
            if problems:
                raise Conflict(
                    "Some servers cannot join these clusters; nothing was registered: " + "; ".join(problems)
                )
            if new_servers:
                Server.objects.bulk_create(new_servers, batch_size=1000)
            if changed_servers:
                Server.objects.bulk_update(
                    changed_servers, [*member_fields, "status", "cluster", "updated_at"], batch_size=1000
                )
            counts["servers_created"] = len(new_servers)
            counts["servers_updated"] = len(changed_servers)
            for name, what in changed_clusters.items():
                record_activity(
                    dbms_type=dbms_type,
                    type=ActivityType.CLUSTER_CHANGE,
                    cluster=clusters[name],
                    user=_actor(user),
                    summary=f"Cluster {name} registered ({what}) by {_who(user)}",
                    details={"action": "registered", "change": what},
                )
    except IntegrityError:
        raise Conflict(
            "These clusters or servers were changed concurrently; nothing was registered."
        ) from None
    return counts


# ---------------------------------------------------------------- automation views


_ACTIVE_COLUMNS = (
    "name",
    "dbms_type",
    "cluster__name",
    "cluster__application__name",
    "cluster__environment",
    "role",
    "host",
    "port",
    "datacenter",
    "cpu",
    "ram",
    "db_gigs",
    "os_version",
    "db_version",
    "cluster__db_version",
    "cluster__topology",
)
_ACTIVE_KEYS = (
    "serverName",
    "dbmsType",
    "cluster",
    "application",
    "environment",
    "role",
    "host",
    "port",
    "datacenter",
    "cpu",
    "ram",
    "dbGigs",
    "osVersion",
    "dbVersion",
    "clusterDbVersion",
    "topology",
)


def active_servers(
    dbms_type: str,
    *,
    cluster: str | None = None,
    application: str | None = None,
    environment: str | None = None,
    role: str | None = None,
    server_name: str | None = None,
    user=None,
) -> list[dict[str, Any]]:
    """The fleet's servers (Used servers of active clusters), as camelCase rows, in one query."""
    qs = Server.objects.fleet().filter(dbms_type=dbms_type)
    if cluster:
        qs = qs.filter(cluster__name=cluster)
    if application:
        qs = qs.filter(cluster__application__name=application)
    if environment:
        qs = qs.filter(cluster__environment=environment)
    if role:
        qs = qs.filter(role=role)
    if server_name:
        qs = qs.filter(name=server_name)
    rows = qs.visible_to(user).order_by("cluster__name", "name").values_list(*_ACTIVE_COLUMNS)
    out = []
    for row in rows:
        item = dict(zip(_ACTIVE_KEYS, row, strict=True))
        item["host"] = item["host"] or item["serverName"]
        out.append(item)
    return out


_GROUP_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def ansible_group(prefix: str, name: str) -> str:
    """Ansible group names allow letters, digits and underscores only."""
    return f"{prefix}_{_GROUP_UNSAFE.sub('_', name)}".lower()


def ansible_hostvars(row: dict[str, Any]) -> dict[str, Any]:
    hostvars = {
        "ansible_host": row["host"],
        "rocketdbaas_dbms_type": row["dbmsType"],
        "rocketdbaas_cluster": row["cluster"],
        "rocketdbaas_application": row["application"],
        "rocketdbaas_environment": row["environment"],
        "rocketdbaas_role": row["role"],
        "rocketdbaas_datacenter": row["datacenter"],
        "rocketdbaas_cpu": row["cpu"],
        "rocketdbaas_ram": row["ram"],
        "rocketdbaas_db_gigs": row["dbGigs"],
        "rocketdbaas_os_version": row["osVersion"],
        "rocketdbaas_db_version": row["dbVersion"],
    }
    if row["port"] is not None:
        hostvars["rocketdbaas_db_port"] = row["port"]
    return hostvars


def ansible_inventory(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Rows of active_servers as an Ansible dynamic inventory (the `--list` JSON contract).

    Groups: one per dbmsType, cluster_<name>, env_<environment>, app_<application>, role_<role>.
    """
    groups: dict[str, list[str]] = {}
    hostvars: dict[str, dict[str, Any]] = {}
    for row in rows:
        host = row["serverName"]
        hostvars[host] = ansible_hostvars(row)
        for group in (
            row["dbmsType"],
            ansible_group("cluster", row["cluster"]),
            ansible_group("env", row["environment"]),
            ansible_group("app", row["application"]),
            ansible_group("role", row["role"] or "unknown"),
        ):
            groups.setdefault(group, []).append(host)
    inventory: dict[str, Any] = {"_meta": {"hostvars": hostvars}}
    inventory["all"] = {"children": ["ungrouped", *sorted(groups)]}
    inventory["ungrouped"] = {"hosts": []}
    for group in sorted(groups):
        inventory[group] = {"hosts": groups[group]}
    return inventory
