from datetime import datetime

from ninja import Field
from pydantic import model_validator

from rocketdbaas.contacts.models import (
    ApplicationContact,
    Contact,
    ContactRole,
    NotificationEvent,
    NotificationLog,
    NotificationStatus,
)
from rocketdbaas.contacts.services import ClusterContacts
from rocketdbaas.core.schemas import CamelSchema

# Field rules (email syntax, phone, lengths) live in the model and are checked by the services,
# so the API, the web forms and other apps' callers get the same answers.
EMAIL_FIELD = Field(..., max_length=254, json_schema_extra={"format": "email"})
# Database ids; anything outside is a 422, not an overflow deep in the database driver.
MAX_ID = 2**63 - 1


class ContactApplicationOut(CamelSchema):
    name: str
    role: ContactRole
    patching_emails: bool


class ContactOut(CamelSchema):
    id: int
    name: str
    email: str
    phone: str
    team: str
    notes: str
    valid_from: datetime
    valid_to: datetime | None
    active: bool
    expired: bool
    applications: list[ContactApplicationOut]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_active(obj: Contact) -> bool:
        return obj.is_active()

    @staticmethod
    def resolve_expired(obj: Contact) -> bool:
        return obj.is_expired()

    @staticmethod
    def resolve_applications(obj: Contact) -> list[dict]:
        return [
            {"name": link.application.name, "role": link.role, "patching_emails": link.patching_emails}
            for link in obj.links.all()
        ]


class ContactIn(CamelSchema):
    name: str = Field(..., min_length=1, max_length=200)
    email: str = EMAIL_FIELD
    phone: str = Field("", max_length=50)
    team: str = Field("", max_length=100)
    notes: str = ""
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class ContactPatch(CamelSchema):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254, json_schema_extra={"format": "email"})
    phone: str | None = Field(None, max_length=50)
    team: str | None = Field(None, max_length=100)
    notes: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    @model_validator(mode="after")
    def no_null_for_text(self):
        for field in ("name", "email", "phone", "team", "notes", "valid_from"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class ExpireIn(CamelSchema):
    at: datetime | None = Field(None, description="When the contact expires; now if omitted.")


class LinkIn(CamelSchema):
    """Attach an existing contact (contactId) or sign up a new one (contact) to the application."""

    contact_id: int | None = Field(None, ge=1, le=MAX_ID)
    contact: ContactIn | None = None
    role: ContactRole = ContactRole.NOTIFY
    patching_emails: bool = True

    @model_validator(mode="after")
    def one_contact(self):
        if (self.contact_id is None) == (self.contact is None):
            raise ValueError("give exactly one of contactId (an existing contact) or contact (a new one)")
        return self


class LinkPatch(CamelSchema):
    role: ContactRole | None = None
    patching_emails: bool | None = None


class LinkOut(CamelSchema):
    application: str
    role: ContactRole
    patching_emails: bool
    linked_at: datetime
    contact: ContactOut

    @staticmethod
    def resolve_application(obj: ApplicationContact) -> str:
        return obj.application.name

    @staticmethod
    def resolve_linked_at(obj: ApplicationContact) -> datetime:
        return obj.created_at


class NotificationOut(CamelSchema):
    id: int
    event_key: str
    event: NotificationEvent
    application: str
    recipient_email: str
    recipient_name: str
    subject: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str
    sent_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_application(obj: NotificationLog) -> str:
        return obj.application.name

    @staticmethod
    def resolve_next_attempt_at(obj: NotificationLog) -> datetime | None:
        return obj.next_attempt_at if obj.status == NotificationStatus.PENDING else None


class NotificationDetailOut(NotificationOut):
    body_text: str
    body_html: str


class ClusterContactOut(CamelSchema):
    """A current contact of a cluster's application, with its role there."""

    id: int
    name: str
    email: str
    phone: str
    team: str
    role: str
    patching_emails: bool

    @staticmethod
    def resolve_id(link: ApplicationContact) -> int:
        return link.contact.pk

    @staticmethod
    def resolve_name(link: ApplicationContact) -> str:
        return link.contact.name

    @staticmethod
    def resolve_email(link: ApplicationContact) -> str:
        return link.contact.email

    @staticmethod
    def resolve_phone(link: ApplicationContact) -> str:
        return link.contact.phone

    @staticmethod
    def resolve_team(link: ApplicationContact) -> str:
        return link.contact.team


class ContactsSection(CamelSchema):
    contacts: list[ClusterContactOut]

    @staticmethod
    def resolve_contacts(data: ClusterContacts) -> list[ApplicationContact]:
        return data.links
