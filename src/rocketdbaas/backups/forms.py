from django import forms

from rocketdbaas.backups.models import BackupStatus, BackupType

STATE_CHOICES = [("live", "Live"), ("expired", "Expired"), ("all", "All")]


class BackupFilterForm(forms.Form):
    cluster = forms.CharField(required=False)
    repository = forms.CharField(required=False)
    backup_type = forms.ChoiceField(
        required=False, choices=[("", "Any type"), *BackupType.choices], label="Type"
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *BackupStatus.choices])
    state = forms.ChoiceField(required=False, choices=STATE_CHOICES, initial="live")
