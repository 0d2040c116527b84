import re
from typing import Any

from django import forms
from django.utils import timezone

from rocketdbaas.dbms import DbmsType
from rocketdbaas.intake import services
from rocketdbaas.intake.models import MAX_SERVERS, BackupPolicy, RequestStatus
from rocketdbaas.inventory.models import Application, Environment, application_name_validator

_NAMED_ADDRESS = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^<>]*)>$")


def parse_contacts(text: str) -> list[services.ContactSpec]:
    """One contact per line: `Name <email>` or just `email`."""
    contacts = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _NAMED_ADDRESS.match(line)
        if match:
            contacts.append(services.ContactSpec(match["name"].strip(' "'), match["email"].strip()))
        else:
            contacts.append(services.ContactSpec("", line))
    return contacts


class IntakeForm(forms.Form):
    """The intake form. Field checks here; the request's rules are the service's, shared with the API."""

    requester_name = forms.CharField(label="Requester", max_length=150)
    requester_email = forms.EmailField(label="Requester e-mail", max_length=254)
    application: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=Application.objects.none(),
        required=False,
        to_field_name="name",
        empty_label="— a new application —",
        label="Application",
    )
    new_application_name = forms.CharField(
        label="New application name",
        max_length=100,
        validators=[application_name_validator],
        required=False,
        help_text="Only when the application is not in the list.",
    )
    contacts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Jane Doe <jane@example.com>"}),
        required=False,
        help_text="People to tell about this database, one per line: Name <email> or just the e-mail.",
    )
    dbms_type = forms.ChoiceField(label="DBMS", choices=DbmsType.choices)
    environment = forms.ChoiceField(choices=Environment.choices)
    number_of_servers = forms.IntegerField(
        label="Number of servers",
        min_value=1,
        max_value=MAX_SERVERS,
        initial=2,
        help_text="More than one for high availability: a primary and replicas.",
    )
    cpu = forms.IntegerField(label="CPU cores per server", min_value=1, max_value=services.MAX_CPU)
    ram = forms.IntegerField(label="RAM per server (GB)", min_value=1, max_value=services.MAX_GIGS)
    db_gigs = forms.IntegerField(
        label="Database disk per server (GB)", min_value=1, max_value=services.MAX_GIGS
    )
    expected_size_gigs = forms.IntegerField(
        label="Expected size (GB)", min_value=0, max_value=services.MAX_GIGS, help_text="At go-live."
    )
    growth_gigs_per_month = forms.IntegerField(
        label="Expected growth (GB per month)", min_value=0, max_value=services.MAX_GIGS, initial=0
    )
    backup_policy = forms.ChoiceField(choices=BackupPolicy.choices, initial=BackupPolicy.STANDARD)
    cost_centre = forms.CharField(label="Cost centre", max_length=50)
    needed_by = forms.DateField(label="Needed by", widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=10_000)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["application"].queryset = services.requestable_applications(user)  # type: ignore[attr-defined]
        self.fields["needed_by"].widget.attrs["min"] = timezone.localdate().isoformat()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data  # the service's rules need every field; the missing ones are already reported
        spec = self.to_spec()
        for error in services.validate_request(spec, self.user):
            self.add_error(error["field"] if error["field"] in self.fields else None, error["message"])
        return data

    def to_spec(self) -> services.RequestSpec:
        d = self.cleaned_data
        return services.RequestSpec(
            requester_name=d["requester_name"],
            requester_email=d["requester_email"],
            application=d["application"].name if d.get("application") else "",
            new_application_name=d.get("new_application_name", ""),
            contacts=parse_contacts(d.get("contacts", "")),
            dbms_type=d["dbms_type"],
            environment=d["environment"],
            number_of_servers=d["number_of_servers"],
            cpu=d["cpu"],
            ram=d["ram"],
            db_gigs=d["db_gigs"],
            expected_size_gigs=d["expected_size_gigs"],
            growth_gigs_per_month=d.get("growth_gigs_per_month") or 0,
            backup_policy=d["backup_policy"],
            cost_centre=d["cost_centre"],
            needed_by=d["needed_by"],
            notes=d.get("notes", ""),
        )


class RequestFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *RequestStatus.choices])
    dbms_type = forms.ChoiceField(required=False, label="DBMS", choices=[("", "Any DBMS"), *DbmsType.choices])


class DecisionForm(forms.Form):
    cluster_name = forms.CharField(
        max_length=100, required=False, help_text="Name of the cluster to build; a suggestion is filled in."
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=10_000)


class CommentForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000)
