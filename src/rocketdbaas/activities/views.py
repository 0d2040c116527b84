"""Pages: the audit log per DBMS type, recording an activity and linking its ticket."""

from datetime import UTC, datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from rocketdbaas.accounts.roles import is_fleet_operator
from rocketdbaas.activities import services
from rocketdbaas.activities.forms import ActivityFilterForm, CorrectionForm, RecordActivityForm, as_bool
from rocketdbaas.core.errors import NotFound, ProblemError
from rocketdbaas.core.listing import sort_and_paginate
from rocketdbaas.dbms import DbmsType, resolve_dbms_type

_FIELD_NAMES = {"ticketUrl": "ticket_url", "occurredAt": "occurred_at"}


def _kind(dbms_type: str) -> DbmsType:
    try:
        return resolve_dbms_type(dbms_type)
    except NotFound as exc:
        raise Http404(exc.detail) from None


def _show_problem(form, exc: ProblemError) -> None:
    if not exc.errors:
        form.add_error(None, exc.detail)
    for error in exc.errors or ():
        name = _FIELD_NAMES.get(error.get("field") or "", error.get("field"))
        form.add_error(name if name in form.fields else None, error["message"])


def _day(value):
    return datetime.combine(value, time.min, tzinfo=UTC) if value else None


@login_required
def activity_list(request, dbms_type: str):
    kind = _kind(dbms_type)
    filters = ActivityFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    try:
        qs = services.filtered_activities(
            kind,
            request.user,
            cluster=data.get("cluster") or None,
            types=[data["type"]] if data.get("type") else None,
            planned=as_bool(data.get("planned")),
            has_ticket=as_bool(data.get("has_ticket")),
            since=_day(data.get("since")),
            until=_day(data.get("until")),
        )
    except NotFound as exc:
        filters.add_error("cluster", exc.detail)
        qs = services.activity_queryset(kind, request.user).none()
    page_obj, sort = sort_and_paginate(
        request, qs, sorts={"occurred": ("occurred_at",), "type": ("type",)}, default="-occurred"
    )
    may_record = is_fleet_operator(request.user)
    form = RecordActivityForm(initial={"cluster": data.get("cluster") or ""}) if may_record else None
    return render(
        request,
        "activities/list.html",
        {
            "dbms_type": kind,
            "dbms_label": kind.label,
            "filters": filters,
            "page_obj": page_obj,
            "sort": sort,
            "form": form,
            "may_record": may_record,
            "correction_form": CorrectionForm() if may_record else None,
        },
    )


@login_required
@require_POST
def record(request, dbms_type: str):
    kind = _kind(dbms_type)
    if not is_fleet_operator(request.user):
        raise PermissionDenied("Recording activities needs the dba or admin role.")
    form = RecordActivityForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        occurred_at = data["occurred_at"]
        if occurred_at is not None and timezone.is_naive(occurred_at):
            occurred_at = occurred_at.replace(tzinfo=UTC)
        try:
            (activity,) = services.record_activities(
                dbms_type=kind,
                items=[
                    services.NewActivity(
                        type=data["type"],
                        cluster=data["cluster"],
                        server=data["server"] or None,
                        occurred_at=occurred_at,
                        planned=data["planned"] == "true",
                        ticket_url=data["ticket_url"] or None,
                        summary=data["summary"],
                    )
                ],
                user=request.user,
            )
        except ProblemError as exc:
            _show_problem(form, exc)
        else:
            messages.success(request, f"Recorded {activity.type} on {data['cluster']}.")
            return redirect(f"{reverse('activities:list', args=[kind])}?cluster={data['cluster']}")
    page_obj, sort = sort_and_paginate(
        request,
        services.filtered_activities(kind, request.user),
        sorts={"occurred": ("occurred_at",)},
        default="-occurred",
    )
    return render(
        request,
        "activities/list.html",
        {
            "dbms_type": kind,
            "dbms_label": kind.label,
            "filters": ActivityFilterForm(),
            "page_obj": page_obj,
            "sort": sort,
            "form": form,
            "may_record": True,
            "correction_form": CorrectionForm(),
        },
        status=422,
    )


@login_required
@require_POST
def correct(request, dbms_type: str, activity_id: int):
    kind = _kind(dbms_type)
    if not is_fleet_operator(request.user):
        raise PermissionDenied("Linking tickets needs the dba or admin role.")
    form = CorrectionForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("activities:list", args=[kind])
    if not form.is_valid():
        messages.error(request, "Give a ticket URL and a summary.")
        return redirect(back)
    try:
        services.add_correction(
            dbms_type=kind,
            activity_id=activity_id,
            user=request.user,
            summary=form.cleaned_data["summary"],
            ticket_url=form.cleaned_data["ticket_url"],
        )
    except NotFound as exc:
        raise Http404(exc.detail) from None
    except ProblemError as exc:
        messages.error(request, "; ".join(e["message"] for e in exc.errors or []) or exc.detail)
    else:
        messages.success(request, "Ticket linked.")
    return redirect(back)
