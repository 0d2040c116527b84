"""Demo contacts for the demo fleet's applications (idempotent: existing contacts and links are kept)."""

from django.db import transaction

from rocketdbaas.contacts.models import ApplicationContact, Contact, ContactRole
from rocketdbaas.inventory.models import Application

# (name, email, phone, team)
PEOPLE = {
    "priya": ("Priya Raman", "priya.raman@example.com", "+44 20 7946 0101", "Payments engineering"),
    "payments-oncall": ("Payments on-call", "payments-oncall@example.com", "+44 20 7946 0199", "Payments"),
    "marco": ("Marco Bianchi", "marco.bianchi@example.com", "+39 02 9475 0110", "Order management"),
    "lena": ("Lena Fischer", "lena.fischer@example.com", "+49 30 9018 2210", "Customer portal"),
    "analytics": ("Analytics team", "analytics@example.com", "", "Data"),
    "dba": ("DBA team", "dba-team@example.com", "+44 20 7946 0000", "Database administration"),
}
# (application, person, role, patching emails)
LINKS = [
    ("payments", "priya", ContactRole.OWNER, True),
    ("payments", "payments-oncall", ContactRole.TECHNICAL, True),
    ("payments", "dba", ContactRole.TECHNICAL, True),
    ("orders", "marco", ContactRole.OWNER, True),
    ("orders", "dba", ContactRole.TECHNICAL, True),
    ("customer-portal", "lena", ContactRole.OWNER, True),
    ("analytics", "analytics", ContactRole.NOTIFY, False),
]


def load_demo(stdout) -> None:
    applications = Application.objects.in_bulk([a for a, *_ in LINKS], field_name="name")
    created = linked = 0
    with transaction.atomic():
        contacts = {}
        for key, (name, email, phone, team) in PEOPLE.items():
            contact = Contact.objects.not_expired().filter(email=email).first()
            if contact is None:
                contact = Contact.objects.create(name=name, email=email, phone=phone, team=team)
                created += 1
            contacts[key] = contact
        for app_name, key, role, patching_emails in LINKS:
            if app_name not in applications:
                continue
            _, new = ApplicationContact.objects.get_or_create(
                application=applications[app_name],
                contact=contacts[key],
                defaults={"role": role, "patching_emails": patching_emails},
            )
            linked += new
    stdout.write(f"Contacts: {created} created, {linked} linked to applications.")
