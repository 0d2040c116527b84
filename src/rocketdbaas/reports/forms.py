from django import forms

from rocketdbaas.contacts.models import ContactRole, phone_validator


class ContactSignUpForm(forms.Form):
    """An owner signs a contact up for one of their applications (contacts.services does the work)."""

    application = forms.ChoiceField(help_text="One of your applications")
    name = forms.CharField(max_length=200)
    email = forms.EmailField(max_length=254)
    phone = forms.CharField(max_length=50, required=False, validators=[phone_validator])
    team = forms.CharField(max_length=100, required=False)
    role = forms.ChoiceField(choices=ContactRole.choices, initial=ContactRole.NOTIFY)
    patching_emails = forms.BooleanField(required=False, initial=True, label="Email them about patching")

    def __init__(self, *args, applications, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["application"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(app.name, app.name) for app in applications]
