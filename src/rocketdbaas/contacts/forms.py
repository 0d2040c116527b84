"""Web forms. They only shape input; the services check it, so the pages and the API agree."""

from datetime import UTC, datetime, time

from django import forms

from rocketdbaas.contacts.models import ContactRole, ContactStatus, NotificationStatus

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


def start_of_day(value) -> datetime | None:
    """A date from a form, as the moment that day begins (UTC)."""
    return datetime.combine(value, time.min, tzinfo=UTC) if value else None


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200)
    email = forms.EmailField(max_length=254)
    phone = forms.CharField(max_length=50, required=False)
    team = forms.CharField(max_length=100, required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    valid_to = forms.DateField(
        required=False, widget=DATE_INPUT, label="Valid until", help_text="Leave empty for no end date"
    )

    def contact_data(self) -> dict:
        data = dict(self.cleaned_data)
        data["valid_to"] = start_of_day(data.get("valid_to"))
        return data


class LinkForm(forms.Form):
    role = forms.ChoiceField(choices=ContactRole.choices, initial=ContactRole.NOTIFY)
    patching_emails = forms.BooleanField(required=False, initial=True, label="Patching emails")


class SignUpForm(ContactForm, LinkForm):
    """A new contact for one application: who they are, and their role there."""


class AttachForm(LinkForm):
    email = forms.EmailField(max_length=254, help_text="The email of an active contact")


class ApplicationSignUpForm(SignUpForm):
    application = forms.ChoiceField(choices=())

    field_order = ["application", "name", "email", "phone", "team", "notes", "valid_to", "role"]

    def __init__(self, *args, applications=(), **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["application"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(a.name, a.name) for a in applications]


class ExpireForm(forms.Form):
    at = forms.DateField(
        required=False, widget=DATE_INPUT, label="Expire on", help_text="Leave empty to expire now"
    )


class ContactFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Name or email")
    status = forms.ChoiceField(choices=ContactStatus.choices, required=False)
    application = forms.CharField(required=False)


class NotificationFilterForm(forms.Form):
    application = forms.CharField(required=False)
    status = forms.ChoiceField(choices=[("", "Any"), *NotificationStatus.choices], required=False)
