from django import forms

from rocketdbaas.activities.models import ActivityType

PLANNED_CHOICES = [("", "Any"), ("true", "Planned"), ("false", "Unplanned")]
TICKET_CHOICES = [("", "Any"), ("true", "With ticket"), ("false", "Without ticket")]


class ActivityFilterForm(forms.Form):
    cluster = forms.CharField(required=False)
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *ActivityType.choices])
    planned = forms.ChoiceField(required=False, choices=PLANNED_CHOICES)
    has_ticket = forms.ChoiceField(required=False, choices=TICKET_CHOICES, label="Ticket")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Before")


def as_bool(value: str | None) -> bool | None:
    return {"true": True, "false": False}.get(value or "")


class RecordActivityForm(forms.Form):
    type = forms.ChoiceField(choices=[c for c in ActivityType.choices if c[0] != ActivityType.CORRECTION])
    cluster = forms.CharField(max_length=100)
    server = forms.CharField(max_length=253, required=False, help_text="Optional: the server it happened to")
    occurred_at = forms.DateTimeField(
        required=False,
        label="Occurred at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: now",
    )
    planned = forms.ChoiceField(choices=[("false", "Unplanned"), ("true", "Planned")])
    ticket_url = forms.CharField(max_length=500, required=False, label="Ticket URL")
    summary = forms.CharField(max_length=500)


class CorrectionForm(forms.Form):
    ticket_url = forms.CharField(max_length=500, label="Ticket URL")
    summary = forms.CharField(max_length=500, initial="Ticket linked")
