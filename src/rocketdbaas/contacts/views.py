"""Pages: applications and their contacts, the contact directory, signing up contacts, the email log.

Every change goes through the same services as the API; a refusal becomes a 403/404 page or
errors on the form.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from rocketdbaas.contacts import services
from rocketdbaas.contacts.forms import (
    ApplicationSignUpForm,
    AttachForm,
    ContactFilterForm,
    ContactForm,
    ExpireForm,
    LinkForm,
    NotificationFilterForm,
    SignUpForm,
    start_of_day,
)
from rocketdbaas.contacts.models import (
    ApplicationContact,
    Contact,
    ContactStatus,
    NotificationLog,
    NotificationStatus,
)
from rocketdbaas.core.errors import Conflict, Forbidden, Invalid, NotFound, ProblemError
from rocketdbaas.core.listing import sort_and_paginate
from rocketdbaas.inventory.models import Application

RECENT_NOTIFICATIONS = 25

# Service errors name fields in camelCase, as the API does.
_FIELD_NAMES = {"validTo": "valid_to", "patchingEmails": "patching_emails"}


def page(view):
    """A logged-in page on which the services' 403 and 404 refusals become Django's."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Forbidden as exc:
            raise PermissionDenied(exc.detail) from None
        except NotFound as exc:
            raise Http404(exc.detail) from None

    return wrapper


def _show_problem(form, exc: ProblemError) -> None:
    """Put a service's refusal (409, 422) on the form: field problems by field, the rest on top."""
    if not exc.errors:
        form.add_error(None, exc.detail)
    for error in exc.errors or ():
        field = _FIELD_NAMES.get(error.get("field") or "", error.get("field"))
        form.add_error(field if field in form.fields else None, error["message"])


def _visible_application(user, name: str) -> Application:
    return services.get_application(name, user)


def _back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _application_url(application: Application) -> str:
    return reverse("contacts:application-detail", args=[application.name])


# --- applications ----------------------------------------------------------------------------


def _count(queryset):
    """A correlated COUNT(*) per outer row (0 when none), without joining the lists themselves."""
    return Coalesce(Subquery(queryset.values("application").annotate(n=Count("pk")).values("n")[:1]), 0)


@page
def application_list(request):
    applications = Application.objects.visible_to(request.user)
    if q := request.GET.get("q", "").strip():
        applications = applications.filter(name__icontains=q)
    current = ApplicationContact.objects.filter(
        application=OuterRef("pk"), contact__in=Contact.objects.reachable()
    )
    log = NotificationLog.objects.filter(application=OuterRef("pk"))
    applications = applications.annotate(
        contact_count=_count(current),
        recipient_count=_count(current.filter(patching_emails=True)),
        pending_count=_count(log.filter(status=NotificationStatus.PENDING)),
        failed_count=_count(log.filter(status=NotificationStatus.FAILED)),
    )
    page_obj, sort = sort_and_paginate(
        request,
        applications,
        sorts={"name": "name", "cost_centre": "cost_centre", "contacts": "contact_count"},
        default="name",
    )
    return render(
        request,
        "contacts/application_list.html",
        {
            "page_obj": page_obj,
            "sort": sort,
            "q": q,
            "may_sign_up": services.manageable_applications(request.user).exists(),
        },
    )


def _application_page(
    request, application: Application, *, show_all: bool = False, status: int = 200, **forms
):
    links = list(
        services.application_links(
            request.user, application, ContactStatus.ALL if show_all else ContactStatus.ACTIVE
        )
    )
    may_manage = services.can_manage_application(request.user, application)
    notifications = services.list_notifications(request.user, application=application.name)
    context = {
        "application": application,
        "links": links,
        "show_all": show_all,
        "may_manage": may_manage,
        "manageable": services.manageable_contact_ids(request.user, [link.contact for link in links]),
        "notifications": notifications[:RECENT_NOTIFICATIONS],
        "notification_total": notifications.count(),
        "expire_form": ExpireForm(),
        "now": timezone.now(),
    }
    if may_manage:
        context["sign_up_form"] = forms.get("sign_up_form") or SignUpForm(prefix="new")
        context["attach_form"] = forms.get("attach_form") or AttachForm(prefix="attach")
    return render(request, "contacts/application_detail.html", context, status=status)


@page
def application_detail(request, name: str):
    application = _visible_application(request.user, name)
    return _application_page(request, application, show_all=request.GET.get("show") == "all")


@page
@require_POST
def application_sign_up(request, name: str):
    application = _visible_application(request.user, name)
    form = SignUpForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            link = services.sign_up_contact(
                request.user,
                application.name,
                form.contact_data(),
                role=form.cleaned_data["role"],
                patching_emails=form.cleaned_data["patching_emails"],
            )
        except (Conflict, Invalid) as exc:
            _show_problem(form, exc)
        else:
            messages.success(request, f"{link.contact.name} is now a contact of {application.name}.")
            return redirect(_application_url(application))
    return _application_page(request, application, status=400, sign_up_form=form)


@page
@require_POST
def application_attach(request, name: str):
    application = _visible_application(request.user, name)
    form = AttachForm(request.POST, prefix="attach")
    if form.is_valid():
        contact = (
            Contact.objects.not_expired().filter(email__iexact=form.cleaned_data["email"].strip()).first()
        )
        if contact is None:
            form.add_error("email", "No active contact has this email; sign them up instead.")
        else:
            try:
                services.link_contact(
                    request.user,
                    application.name,
                    contact.pk,
                    role=form.cleaned_data["role"],
                    patching_emails=form.cleaned_data["patching_emails"],
                )
            except (Conflict, Invalid) as exc:
                _show_problem(form, exc)
            else:
                messages.success(request, f"{contact.name} is now a contact of {application.name}.")
                return redirect(_application_url(application))
    return _application_page(request, application, status=400, attach_form=form)


@page
def link_edit(request, name: str, contact_id: int):
    application = _visible_application(request.user, name)
    if not services.can_manage_application(request.user, application):
        raise Forbidden("You may not change the contacts of this application.")
    link = services.get_link(request.user, application.name, contact_id)
    form = LinkForm(
        request.POST or None, initial={"role": link.role, "patching_emails": link.patching_emails}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_link(
                request.user,
                application.name,
                contact_id,
                role=form.cleaned_data["role"],
                patching_emails=form.cleaned_data["patching_emails"],
            )
        except (Conflict, Invalid) as exc:
            _show_problem(form, exc)
        else:
            messages.success(request, f"Updated {link.contact.name} for {application.name}.")
            return redirect(_application_url(application))
    return render(
        request,
        "contacts/link_form.html",
        {"application": application, "link": link, "form": form},
        status=400 if form.errors else 200,
    )


@page
@require_POST
def link_delete(request, name: str, contact_id: int):
    application = _visible_application(request.user, name)
    services.unlink_contact(request.user, application.name, contact_id)
    messages.success(request, f"The contact no longer serves {application.name}.")
    return redirect(_application_url(application))


# --- contacts --------------------------------------------------------------------------------


@page
def contact_list(request):
    filters = ContactFilterForm(request.GET)
    status, q, application = ContactStatus.ACTIVE, "", None
    if filters.is_valid():
        status = ContactStatus(filters.cleaned_data["status"] or ContactStatus.ACTIVE)
        q = filters.cleaned_data["q"].strip()
        application = filters.cleaned_data["application"].strip() or None
    contacts = services.list_contacts(request.user, status=status, application=application)
    if q:
        contacts = contacts.filter(Q(name__icontains=q) | Q(email__icontains=q))
    page_obj, sort = sort_and_paginate(
        request,
        contacts,
        sorts={"name": "name", "email": "email", "team": "team", "valid_to": "valid_to"},
        default="name",
    )
    return render(
        request,
        "contacts/contact_list.html",
        {
            "page_obj": page_obj,
            "sort": sort,
            "filters": filters,
            "manageable": services.manageable_contact_ids(request.user, page_obj.object_list),
            "may_sign_up": services.manageable_applications(request.user).exists(),
            "now": timezone.now(),
        },
    )


@page
def contact_edit(request, contact_id: int):
    contact = services.get_contact(request.user, contact_id)
    if not services.can_manage_contact(request.user, contact):
        raise Forbidden("You may only change contacts that serve nothing but your own applications.")
    initial = {f: getattr(contact, f) for f in ("name", "email", "phone", "team", "notes")}
    initial["valid_to"] = contact.valid_to.date() if contact.valid_to else None
    form = ContactForm(request.POST or None, initial=initial)
    back = _back(request, reverse("contacts:contact-list"))
    if request.method == "POST" and form.is_valid():
        changes = form.contact_data()
        if form.cleaned_data["valid_to"] == initial["valid_to"]:
            del changes["valid_to"]  # the form shows a date; an unchanged one keeps the exact moment
        try:
            services.update_contact(request.user, contact.pk, changes)
        except (Conflict, Invalid) as exc:
            _show_problem(form, exc)
        else:
            messages.success(request, f"Saved {form.cleaned_data['name']}.")
            return redirect(back)
    return render(
        request,
        "contacts/contact_form.html",
        {"contact": contact, "form": form, "expire_form": ExpireForm(), "back": back, "now": timezone.now()},
        status=400 if form.errors else 200,
    )


@page
@require_POST
def contact_expire(request, contact_id: int):
    form = ExpireForm(request.POST)
    back = _back(request, reverse("contacts:contact-list"))
    today = timezone.now().date()
    day = form.cleaned_data["at"] if form.is_valid() else None
    if not form.is_valid() or (day and day < today):
        messages.error(request, "Give today or a later date to expire the contact on.")
        return redirect(back)
    at = start_of_day(day) if day and day > today else None
    try:
        contact = services.expire_contact(request.user, contact_id, at)
    except (Conflict, Invalid) as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, f"{contact.name} expires {'on ' + str(day) if at else 'now'}; they are kept as history."
        )
    return redirect(back)


@page
@require_POST
def contact_reactivate(request, contact_id: int):
    back = _back(request, reverse("contacts:contact-list"))
    try:
        contact = services.reactivate_contact(request.user, contact_id)
    except (Conflict, Invalid) as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{contact.name} is active again.")
    return redirect(back)


@page
def sign_up(request):
    """Owners (and the DBA team) add a contact to one of the applications they manage."""
    applications = list(services.manageable_applications(request.user).order_by("name"))
    if not applications:
        raise Forbidden("You manage no application, so there is nobody to sign up contacts for.")
    form = ApplicationSignUpForm(
        request.POST or None,
        applications=applications,
        initial={"application": request.GET.get("application", "")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            link = services.sign_up_contact(
                request.user,
                form.cleaned_data["application"],
                form.contact_data(),
                role=form.cleaned_data["role"],
                patching_emails=form.cleaned_data["patching_emails"],
            )
        except (Conflict, Invalid) as exc:
            _show_problem(form, exc)
        else:
            messages.success(request, f"{link.contact.name} is now a contact of {link.application.name}.")
            return redirect(_application_url(link.application))
    return render(request, "contacts/sign_up.html", {"form": form}, status=400 if form.errors else 200)


# --- the email log ---------------------------------------------------------------------------


@page
def notification_list(request):
    filters = NotificationFilterForm(request.GET)
    application, status = None, None
    if filters.is_valid():
        application = filters.cleaned_data["application"].strip() or None
        status = (
            NotificationStatus(filters.cleaned_data["status"]) if filters.cleaned_data["status"] else None
        )
    notifications = services.list_notifications(request.user, application=application, status=status)
    page_obj, sort = sort_and_paginate(
        request,
        notifications,
        sorts={"created": "created_at", "recipient": "recipient_email", "status": "status"},
        default="-created",
    )
    return render(
        request, "contacts/notification_list.html", {"page_obj": page_obj, "sort": sort, "filters": filters}
    )


@page
def notification_detail(request, notification_id: int):
    notification = services.get_notification(request.user, notification_id)
    return render(request, "contacts/notification_detail.html", {"notification": notification})
