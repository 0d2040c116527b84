"""The request workflow: submit → approve → fulfil (pull servers from the pool, build the cluster)
or reject. The web form and /api/intake both call these, so they apply the same rules."""

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from rocketdbaas.accounts.models import User
from rocketdbaas.accounts.roles import is_fleet_operator, may_write
from rocketdbaas.contacts import services as contacts
from rocketdbaas.core.errors import Conflict, Forbidden, Invalid, NotFound
from rocketdbaas.core.middleware import current_request_id
from rocketdbaas.dbms import DbmsType
from rocketdbaas.intake.models import (
    MAX_SERVERS,
    TRANSITIONS,
    BackupPolicy,
    IntakeRequest,
    ReferenceCounter,
    RequestEvent,
    RequestStatus,
)
from rocketdbaas.inventory import services as inventory
from rocketdbaas.inventory.models import (
    APPLICATION_NAME_PATTERN,
    Application,
    Cluster,
    Environment,
    ServerRole,
)

MAX_CONTACTS = 20
MAX_CPU = 4096
MAX_GIGS = 1_000_000

# Members get these roles in pool order: the first server is the primary.
_OTHER_ROLE = {DbmsType.POSTGRESQL: ServerRole.REPLICA, DbmsType.MONGODB: ServerRole.SECONDARY}
_SHORT_TYPE = {DbmsType.POSTGRESQL: "pg", DbmsType.MONGODB: "mongo"}


@dataclass
class ContactSpec:
    name: str
    email: str


@dataclass
class RequestSpec:
    """What a requester asks for, as the form or the API parsed it."""

    requester_name: str
    requester_email: str
    dbms_type: str
    environment: str
    number_of_servers: int
    cpu: int
    ram: int
    db_gigs: int
    expected_size_gigs: int
    cost_centre: str
    needed_by: date
    application: str = ""
    new_application_name: str = ""
    contacts: list[ContactSpec] = field(default_factory=list)
    growth_gigs_per_month: int = 0
    backup_policy: str = BackupPolicy.STANDARD
    notes: str = ""


# ---------------------------------------------------------------- who sees what


def visible_requests(user) -> QuerySet[IntakeRequest]:
    """Owners see the requests they filed and those for their applications; fleet readers see all."""
    return IntakeRequest.objects.visible_to(user).select_related("application", "cluster", "submitted_by")


def cluster_requests(cluster) -> list[IntakeRequest]:
    """The intake requests a cluster the caller may see was built for, oldest first."""
    return list(IntakeRequest.objects.filter(cluster=cluster).order_by("created_at", "id"))


def get_request(reference: str, user) -> IntakeRequest:
    """The request, if this user may see it (404 otherwise: its existence is not disclosed)."""
    found = None
    if "\x00" not in reference:  # PostgreSQL refuses NUL in a query; no reference has one
        found = visible_requests(user).filter(reference=reference.upper()).first()
    if found is None:
        raise NotFound(f"No request {reference!r}.")
    return found


def may_submit(user) -> bool:
    return may_write(user)


def may_comment(user, request: IntakeRequest) -> bool:
    return is_fleet_operator(user) or request.submitted_by_id == user.pk


def requestable_applications(user) -> QuerySet[Application]:
    """Applications a user may request a database for: owners only their own."""
    return Application.objects.visible_to(user).order_by("name")


# ---------------------------------------------------------------- submit


def validate_request(spec: RequestSpec, user, today: date | None = None) -> list[dict[str, Any]]:
    """Every problem with the request, as {"field", "message"} in the API's snake_case field names."""
    today = today or timezone.localdate()
    errors: list[dict[str, Any]] = []

    def problem(field_name: str, message: str) -> None:
        errors.append({"field": field_name, "message": message})

    if not spec.requester_name.strip():
        problem("requester_name", "Say who is requesting the database.")
    try:
        validate_email(spec.requester_email)
    except ValidationError:
        problem("requester_email", "Enter a valid e-mail address for the requester.")
    if spec.application and spec.new_application_name:
        problem("application", "Choose an existing application or name a new one, not both.")
    elif not spec.application and not spec.new_application_name.strip():
        problem("application", "Choose an existing application or name a new one.")
    elif spec.application:
        if not requestable_applications(user).filter(name=spec.application).exists():
            problem("application", f"There is no application named {spec.application!r} you can request for.")
    elif not re.match(APPLICATION_NAME_PATTERN, spec.new_application_name.strip()):
        problem("new_application_name", "Application names cannot contain '/' or control characters.")
    elif Application.objects.filter(name__iexact=spec.new_application_name.strip()).exists():
        problem(
            "new_application_name",
            f"An application named {spec.new_application_name.strip()!r} already exists; choose it instead.",
        )
    if len(spec.contacts) > MAX_CONTACTS:
        problem("contacts", f"List at most {MAX_CONTACTS} contacts.")
    for i, contact in enumerate(spec.contacts, start=1):
        try:
            validate_email(contact.email)
        except ValidationError:
            problem("contacts", f"Contact {i}: {contact.email!r} is not a valid e-mail address.")
    if spec.dbms_type not in DbmsType.values:
        problem("dbms_type", f"Choose one of: {', '.join(DbmsType.values)}.")
    if spec.environment not in Environment.values:
        problem("environment", f"Choose one of: {', '.join(Environment.values)}.")
    if not 1 <= spec.number_of_servers <= MAX_SERVERS:
        problem("number_of_servers", f"Ask for between 1 and {MAX_SERVERS} servers.")
    if not 1 <= spec.cpu <= MAX_CPU:
        problem("cpu", f"CPU cores per server must be between 1 and {MAX_CPU}.")
    if not 1 <= spec.ram <= MAX_GIGS:
        problem("ram", f"RAM per server must be between 1 and {MAX_GIGS} GB.")
    if not 1 <= spec.db_gigs <= MAX_GIGS:
        problem("db_gigs", f"Database disk per server must be between 1 and {MAX_GIGS} GB.")
    if spec.expected_size_gigs < 0:
        problem("expected_size_gigs", "The expected size cannot be negative.")
    elif 1 <= spec.db_gigs <= MAX_GIGS and spec.expected_size_gigs > spec.db_gigs:
        problem(
            "expected_size_gigs",
            f"The expected size ({spec.expected_size_gigs} GB) does not fit the database disk "
            f"of {spec.db_gigs} GB per server; ask for more disk.",
        )
    if spec.growth_gigs_per_month < 0:
        problem("growth_gigs_per_month", "Growth cannot be negative.")
    if spec.backup_policy not in BackupPolicy.values:
        problem("backup_policy", f"Choose one of: {', '.join(BackupPolicy.values)}.")
    elif spec.backup_policy == BackupPolicy.NONE and spec.environment == Environment.PROD:
        problem("backup_policy", "Production databases must be backed up; choose a backup policy.")
    if not spec.cost_centre.strip():
        problem("cost_centre", "Give the cost centre to charge.")
    if spec.needed_by < today:
        problem("needed_by", f"The needed-by date cannot be in the past (today is {today.isoformat()}).")
    return errors


def _next_reference(year: int) -> str:
    counter, _ = ReferenceCounter.objects.select_for_update().get_or_create(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"REQ-{year}-{counter.last:04d}"


def _event(request: IntakeRequest, user, *, to_status: str = "", from_status: str = "", comment: str = ""):
    RequestEvent.objects.create(
        intake=request,
        from_status=from_status,
        to_status=to_status,
        comment=comment,
        user=user if user is not None and user.is_authenticated else None,
        request_id=current_request_id(),
    )


def submit_request(spec: RequestSpec, user: User) -> IntakeRequest:
    if not may_submit(user):
        raise Forbidden("Viewers cannot submit requests.")
    errors = validate_request(spec, user)
    if errors:
        raise Invalid("The request is not valid.", errors=errors)
    with transaction.atomic():
        application = Application.objects.get(name=spec.application) if spec.application else None
        request = IntakeRequest.objects.create(
            reference=_next_reference(timezone.now().year),
            submitted_by=user,
            requester_name=spec.requester_name.strip(),
            requester_email=spec.requester_email.strip(),
            application=application,
            new_application_name="" if application else spec.new_application_name.strip(),
            contacts=[{"name": c.name.strip(), "email": c.email.strip().lower()} for c in spec.contacts],
            dbms_type=spec.dbms_type,
            environment=spec.environment,
            number_of_servers=spec.number_of_servers,
            cpu=spec.cpu,
            ram=spec.ram,
            db_gigs=spec.db_gigs,
            expected_size_gigs=spec.expected_size_gigs,
            growth_gigs_per_month=spec.growth_gigs_per_month,
            backup_policy=spec.backup_policy,
            cost_centre=spec.cost_centre.strip(),
            needed_by=spec.needed_by,
            notes=spec.notes,
        )
        _event(request, user, to_status=RequestStatus.SUBMITTED)
    return request


# ---------------------------------------------------------------- decide


def _lock(reference: str, user) -> IntakeRequest:
    get_request(reference, user)  # 404 before 403/409, for requests this user cannot see
    return (
        IntakeRequest.objects.select_for_update(of=("self",))
        .select_related("application")
        .get(reference=reference.upper())
    )


def _move(request: IntakeRequest, to: str) -> str:
    before = request.status
    if to not in TRANSITIONS[before]:
        raise Conflict(
            f"Request {request.reference} is {before}; it cannot become {to}.",
            reference=request.reference,
            currentStatus=before,
        )
    request.status = to
    return before


def approve_request(reference: str, *, user, comment: str = "") -> IntakeRequest:
    if not is_fleet_operator(user):
        raise Forbidden("Approving requests needs the dba or admin role.")
    with transaction.atomic():
        request = _lock(reference, user)
        before = _move(request, RequestStatus.APPROVED)
        request.save(update_fields=["status", "updated_at"])
        _event(request, user, from_status=before, to_status=RequestStatus.APPROVED, comment=comment.strip())
    return get_request(reference, user)


def reject_request(reference: str, *, user, comment: str) -> IntakeRequest:
    if not is_fleet_operator(user):
        raise Forbidden("Rejecting requests needs the dba or admin role.")
    if not comment.strip():
        raise Invalid(
            "Say why the request is rejected.",
            errors=[{"field": "comment", "message": "A comment is required to reject a request."}],
        )
    with transaction.atomic():
        request = _lock(reference, user)
        before = _move(request, RequestStatus.REJECTED)
        request.save(update_fields=["status", "updated_at"])
        _event(request, user, from_status=before, to_status=RequestStatus.REJECTED, comment=comment.strip())
    return get_request(reference, user)


def add_comment(reference: str, *, user, comment: str) -> IntakeRequest:
    request = get_request(reference, user)
    if not may_comment(user, request):
        raise Forbidden("Only the requester and DBAs comment on a request.")
    if not comment.strip():
        raise Invalid("The comment is empty.", errors=[{"field": "comment", "message": "Write a comment."}])
    with transaction.atomic():
        _event(request, user, comment=comment.strip())
    return get_request(reference, user)


def suggest_cluster_name(request: IntakeRequest) -> str:
    """`<application>-<environment>-<pg|mongo>`, numbered if the name is taken."""
    app = slugify(request.application_name).replace("_", "-").strip("-")[:60] or "cluster"
    base = f"{app}-{request.environment}-{_SHORT_TYPE.get(DbmsType(request.dbms_type), request.dbms_type)}"
    taken = set(Cluster.objects.filter(name__startswith=base).values_list("name", flat=True))
    if base not in taken:
        return base
    numbered = re.compile(rf"^{re.escape(base)}-(\d+)$")
    used = {int(m.group(1)) for name in taken if (m := numbered.match(name))}
    return f"{base}-{max(used | {1}) + 1}"


def fulfil_request(reference: str, *, user, cluster_name: str = "", comment: str = "") -> IntakeRequest:
    """Approve (if still submitted) and build the cluster: pull-and-lock servers from the pool and
    create the cluster from them, all in one transaction. If the pool cannot satisfy the request,
    or the cluster cannot be created, nothing changes and the error says why."""
    if not is_fleet_operator(user):
        raise Forbidden("Fulfilling requests needs the dba or admin role.")
    with transaction.atomic():
        request = _lock(reference, user)
        before = _move(request, RequestStatus.FULFILLED)
        name = cluster_name.strip() or suggest_cluster_name(request)
        dbms_type = DbmsType(request.dbms_type)
        try:
            reservation = inventory.pull_and_lock(
                dbms_type,
                request.number_of_servers,
                cpu=request.cpu,
                ram=request.ram,
                db_gigs=request.db_gigs,
                user=user,
            )
        except Conflict as exc:
            raise Conflict(
                f"The pool cannot satisfy {request.reference}: {exc.detail} The request stays {before}.",
                reference=request.reference,
                currentStatus=before,
                **exc.extra,
            ) from None
        members = [
            inventory.Member(server.name, ServerRole.PRIMARY if i == 0 else _OTHER_ROLE[dbms_type])
            for i, server in enumerate(reservation.servers)
        ]
        is_new_application = request.application is None
        cluster = inventory.create_cluster(
            dbms_type,
            application=inventory.ApplicationSpec(
                name=request.application_name, cost_centre=request.cost_centre
            ),
            cluster=inventory.ClusterSpec(
                name=name,
                environment=request.environment,
                topology=_topology(dbms_type, request.number_of_servers),
                description=f"Built for intake request {request.reference}.",
            ),
            members=members,
            user=user,
            reservation_id=reservation.reservation_id,
        )
        request.cluster = cluster
        request.application = cluster.application
        request.save(update_fields=["status", "cluster", "application", "updated_at"])
        linked = _link_contacts(request, cluster.application, user)
        if before == RequestStatus.SUBMITTED:
            _event(request, user, from_status=before, to_status=RequestStatus.APPROVED)
        built = f"Cluster {cluster.name} built from {', '.join(m.server_name for m in members)}."
        if is_new_application:
            built += f" New application {cluster.application.name} created."
        if linked:
            built += f" Contacts linked to {cluster.application.name}: {', '.join(linked)}."
        _event(
            request,
            user,
            from_status=RequestStatus.APPROVED,
            to_status=RequestStatus.FULFILLED,
            comment=f"{built}\n{comment.strip()}".strip(),
        )
    return get_request(reference, user)


def _link_contacts(request: IntakeRequest, application: Application, user) -> list[str]:
    """Sign the request's contacts up for the application (reusing an active contact with the
    same e-mail); returns the e-mails newly linked."""
    linked = []
    already = {
        e.lower()
        for e in contacts.application_links(user, application).values_list("contact__email", flat=True)
    }
    for wanted in request.contacts:
        email = wanted["email"].lower()
        if email in already:
            continue
        existing = contacts.visible_contacts(user).not_expired().filter(email__iexact=email).first()
        if existing is not None:
            contacts.link_contact(user, application.name, existing.pk)
        else:
            name = wanted["name"] or email.split("@", 1)[0]
            contacts.sign_up_contact(user, application.name, {"name": name, "email": email})
        already.add(email)
        linked.append(email)
    return linked


def _topology(dbms_type: DbmsType, servers: int) -> str:
    if dbms_type == DbmsType.MONGODB:
        return "replicaset" if servers > 1 else "standalone"
    return "primary-replica" if servers > 1 else "standalone"
