from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rocketdbaas.accounts.roles import is_fleet_operator
from rocketdbaas.core.errors import Forbidden, ProblemError
from rocketdbaas.core.listing import sort_and_paginate
from rocketdbaas.intake import services
from rocketdbaas.intake.forms import CommentForm, DecisionForm, IntakeForm, RequestFilterForm
from rocketdbaas.intake.models import OPEN_STATUSES
from rocketdbaas.inventory.models import Server

SORTS = {
    "reference": "reference",
    "application": ("application__name", "new_application_name"),
    "dbms_type": "dbms_type",
    "environment": "environment",
    "needed_by": "needed_by",
    "status": "status",
    "created": "created_at",
}


@login_required
def request_list(request):
    filters = RequestFilterForm(request.GET)
    qs = services.visible_requests(request.user)
    if filters.is_valid():
        if q := filters.cleaned_data["q"].strip():
            qs = qs.filter(
                Q(reference__icontains=q)
                | Q(application__name__icontains=q)
                | Q(new_application_name__icontains=q)
                | Q(requester_name__icontains=q)
            )
        if status := filters.cleaned_data["status"]:
            qs = qs.filter(status=status)
        if dbms_type := filters.cleaned_data["dbms_type"]:
            qs = qs.filter(dbms_type=dbms_type)
    page, sort = sort_and_paginate(request, qs, sorts=SORTS, default="-created")
    return render(
        request,
        "intake/request_list.html",
        {
            "page_obj": page,
            "sort": sort,
            "filters": filters,
            "may_submit": services.may_submit(request.user),
        },
    )


@login_required
def request_new(request):
    if not services.may_submit(request.user):
        raise PermissionDenied("Viewers cannot submit requests.")
    user = request.user
    if request.method == "POST":
        form = IntakeForm(request.POST, user=user)
        if form.is_valid():
            try:
                created = services.submit_request(form.to_spec(), user)
            except ProblemError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(
                    request, f"Request {created.reference} submitted. The DBA team has been told."
                )
                return redirect("intake:detail", reference=created.reference)
    else:
        form = IntakeForm(
            user=user,
            initial={"requester_name": user.get_full_name() or user.username, "requester_email": user.email},
        )
    return render(request, "intake/request_form.html", {"form": form}, status=400 if form.errors else 200)


def _detail(request, reference: str, *, decision=None, comment_form=None, status: int = 200):
    intake = services.get_request(reference, request.user)
    operator = is_fleet_operator(request.user)
    context = {
        "intake": intake,
        "events": intake.events.select_related("user"),
        "may_decide": operator and intake.status in OPEN_STATUSES,
        "may_comment": services.may_comment(request.user, intake),
        "decision": decision,
        "comment_form": comment_form or CommentForm(),
    }
    if context["may_decide"]:
        context["decision"] = decision or DecisionForm(
            initial={"cluster_name": services.suggest_cluster_name(intake)}
        )
        context["matching_free"] = Server.objects.candidates(
            cpu=intake.cpu, ram_gb=intake.ram, disk_gb=intake.db_gigs, dbms=intake.dbms_type
        ).count()
    return render(request, "intake/request_detail.html", context, status=status)


@login_required
def request_detail(request, reference: str):
    try:
        return _detail(request, reference)
    except ProblemError as exc:
        return _problem_page(request, exc)


def _problem_page(request, exc: ProblemError):
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.detail)
    return render(request, "intake/problem.html", {"problem": exc}, status=exc.status)


@login_required
@require_POST
def request_decide(request, reference: str):
    """Approve and fulfil, approve only, or reject: the button pressed says which."""
    if not is_fleet_operator(request.user):
        raise PermissionDenied("Deciding on requests needs the dba or admin role.")
    form = DecisionForm(request.POST)
    action = request.POST.get("action")
    if not form.is_valid() or action not in ("fulfil", "approve", "reject"):
        return _detail(request, reference, decision=form, status=400)
    comment, cluster_name = form.cleaned_data["comment"], form.cleaned_data["cluster_name"]
    try:
        if action == "fulfil":
            done = services.fulfil_request(
                reference, user=request.user, cluster_name=cluster_name, comment=comment
            )
            assert done.cluster is not None
            messages.success(request, f"{done.reference} fulfilled: cluster {done.cluster.name} is built.")
        elif action == "approve":
            done = services.approve_request(reference, user=request.user, comment=comment)
            messages.success(request, f"{done.reference} approved.")
        else:
            done = services.reject_request(reference, user=request.user, comment=comment)
            messages.success(request, f"{done.reference} rejected.")
    except ProblemError as exc:
        if exc.status == 404:
            return _problem_page(request, exc)
        for error in exc.errors or []:
            if error.get("field") in form.fields:
                form.add_error(error["field"], error["message"])
        messages.error(request, f"{exc.detail} Nothing was changed.")
        return _detail(request, reference, decision=form, status=exc.status)
    return redirect("intake:detail", reference=done.reference)


@login_required
@require_POST
def request_comment(request, reference: str):
    form = CommentForm(request.POST)
    try:
        intake = services.get_request(reference, request.user)
        if not services.may_comment(request.user, intake):
            raise PermissionDenied("Only the requester and DBAs comment on a request.")
        if not form.is_valid():
            return _detail(request, reference, comment_form=form, status=400)
        services.add_comment(reference, user=request.user, comment=form.cleaned_data["comment"])
    except ProblemError as exc:
        return _problem_page(request, exc)
    messages.success(request, "Comment added.")
    return redirect("intake:detail", reference=intake.reference)
