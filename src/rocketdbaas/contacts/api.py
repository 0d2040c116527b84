"""/api/contacts, /api/applications/{name}/contacts and /api/notifications."""

from ninja import Path, Query, Status
from ninja.pagination import paginate

from rocketdbaas.contacts import services
from rocketdbaas.contacts.models import ContactStatus, NotificationStatus
from rocketdbaas.contacts.schemas import (
    MAX_ID,
    ContactIn,
    ContactOut,
    ContactPatch,
    ExpireIn,
    LinkIn,
    LinkOut,
    LinkPatch,
    NotificationDetailOut,
    NotificationOut,
)
from rocketdbaas.core.pagination import LimitOffset
from rocketdbaas.core.schemas import PROBLEMS, ApiRouter

router = ApiRouter()

ContactId = Path(..., ge=1, le=MAX_ID)
NotificationId = Path(..., ge=1, le=MAX_ID)
ApplicationName = Path(..., max_length=100)


@router.get("/contacts", response={200: list[ContactOut], **PROBLEMS}, summary="List contacts")
@paginate(LimitOffset)
def list_contacts(
    request,
    name: str | None = Query(None, max_length=200),
    email: str | None = Query(None, max_length=254),
    application: str | None = Query(None, max_length=100),
    status: ContactStatus = ContactStatus.ACTIVE,
):
    """Expired contacts are hidden unless `status=expired` or `status=all`. Owners see their applications' contacts."""
    return services.list_contacts(
        request.user, name=name, email=email, application=application, status=status
    )


@router.post("/contacts", response={201: ContactOut, **PROBLEMS}, summary="Create a contact")
def create_contact(request, payload: ContactIn):
    contact = services.create_contact(request.user, payload.model_dump())
    return Status(201, services.get_contact(request.user, contact.pk))


@router.get("/contacts/{contact_id}", response={200: ContactOut, **PROBLEMS}, summary="Read a contact")
def get_contact(request, contact_id: int = ContactId):
    return services.get_contact(request.user, contact_id)


@router.patch("/contacts/{contact_id}", response={200: ContactOut, **PROBLEMS}, summary="Update a contact")
def update_contact(request, payload: ContactPatch, contact_id: int = ContactId):
    services.update_contact(request.user, contact_id, payload.model_dump(exclude_unset=True))
    return services.get_contact(request.user, contact_id)


@router.post(
    "/contacts/{contact_id}/expire", response={200: ContactOut, **PROBLEMS}, summary="Expire a contact"
)
def expire_contact(request, contact_id: int = ContactId, payload: ExpireIn | None = None):
    """Now, or at a future `at`. Expired contacts are kept as history and receive nothing."""
    services.expire_contact(request.user, contact_id, payload.at if payload else None)
    return services.get_contact(request.user, contact_id)


@router.post(
    "/contacts/{contact_id}/reactivate",
    response={200: ContactOut, **PROBLEMS},
    summary="Reactivate a contact",
)
def reactivate_contact(request, contact_id: int = ContactId):
    """Clears the contact's end date, unless another active contact has its email by now."""
    services.reactivate_contact(request.user, contact_id)
    return services.get_contact(request.user, contact_id)


@router.get(
    "/applications/{name}/contacts",
    response={200: list[LinkOut], **PROBLEMS},
    summary="List an application's contacts",
)
@paginate(LimitOffset)
def list_application_contacts(
    request, name: str = ApplicationName, status: ContactStatus = ContactStatus.ACTIVE
):
    return services.application_links(request.user, services.get_application(name, request.user), status)


@router.post(
    "/applications/{name}/contacts",
    response={201: LinkOut, **PROBLEMS},
    summary="Attach a contact to an application, or sign up a new one",
)
def link_contact(request, payload: LinkIn, name: str = ApplicationName):
    """Give `contactId` to attach an existing contact, or `contact` to create one and attach it."""
    if payload.contact is not None:
        link = services.sign_up_contact(
            request.user,
            name,
            payload.contact.model_dump(),
            role=payload.role,
            patching_emails=payload.patching_emails,
        )
    else:
        assert payload.contact_id is not None  # the schema requires one of the two
        link = services.link_contact(
            request.user, name, payload.contact_id, role=payload.role, patching_emails=payload.patching_emails
        )
    return Status(201, services.get_link(request.user, name, link.contact_id))


@router.patch(
    "/applications/{name}/contacts/{contact_id}",
    response={200: LinkOut, **PROBLEMS},
    summary="Change a contact's role or patching emails for an application",
)
def update_link(request, payload: LinkPatch, name: str = ApplicationName, contact_id: int = ContactId):
    services.update_link(
        request.user, name, contact_id, role=payload.role, patching_emails=payload.patching_emails
    )
    return services.get_link(request.user, name, contact_id)


@router.delete(
    "/applications/{name}/contacts/{contact_id}",
    response={204: None, **PROBLEMS},
    summary="Detach a contact from an application",
)
def unlink_contact(request, name: str = ApplicationName, contact_id: int = ContactId):
    services.unlink_contact(request.user, name, contact_id)
    return Status(204, None)


@router.get(
    "/notifications", response={200: list[NotificationOut], **PROBLEMS}, summary="List notification emails"
)
@paginate(LimitOffset)
def list_notifications(
    request,
    application: str | None = Query(None, max_length=100),
    status: NotificationStatus | None = None,
):
    """Every email queued, sent or failed, newest first; owners see their applications' only."""
    return services.list_notifications(request.user, application=application, status=status)


@router.get(
    "/notifications/{notification_id}",
    response={200: NotificationDetailOut, **PROBLEMS},
    summary="Read a notification email with its text and HTML",
)
def get_notification(request, notification_id: int = NotificationId):
    return services.get_notification(request.user, notification_id)
