from django import forms

from rocketdbaas.inventory.models import (
    ROLES_BY_DBMS_TYPE,
    Application,
    ClusterStatus,
    Environment,
    PoolStatus,
    ServerRole,
)
from rocketdbaas.inventory.services import MAX_PULL


def _any(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


class ClusterFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    environment = forms.ChoiceField(required=False, choices=_any("Any environment", Environment.choices))
    application = forms.ModelChoiceField(
        queryset=Application.objects.order_by("name"),
        required=False,
        to_field_name="name",
        empty_label="Any application",
    )
    status = forms.ChoiceField(required=False, choices=_any("Any status", ClusterStatus.choices))


class ServerFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    status = forms.ChoiceField(required=False, choices=_any("In the pool or in use", PoolStatus.choices))
    environment = forms.ChoiceField(required=False, choices=_any("Any environment", Environment.choices))
    role = forms.ChoiceField(required=False, choices=_any("Any role", ServerRole.choices))


class PoolFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=_any(
            "Free and Locked",
            [(PoolStatus.FREE, "Free"), (PoolStatus.LOCKED, "Locked"), (PoolStatus.USED, "Used")],
        ),
    )


class PullAndLockForm(forms.Form):
    number_of_servers = forms.IntegerField(label="Servers", min_value=1, max_value=MAX_PULL, initial=1)
    cpu = forms.IntegerField(label="Min CPU", min_value=1, max_value=4096)
    ram = forms.IntegerField(label="Min RAM (GB)", min_value=1)
    db_gigs = forms.IntegerField(label="Min disk (GB)", min_value=1)


class PoolStatusForm(forms.Form):
    """Release a server (→ Free) or mark a Locked one Used in a cluster."""

    status = forms.ChoiceField(choices=[(PoolStatus.FREE, "Free"), (PoolStatus.USED, "Used")])
    cluster = forms.CharField(max_length=100, required=False)
    role = forms.ChoiceField(required=False, choices=ServerRole.choices)

    def __init__(self, *args, dbms_type: str, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = ROLES_BY_DBMS_TYPE[dbms_type]
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = [(value, label) for value, label in ServerRole.choices if value in allowed]
