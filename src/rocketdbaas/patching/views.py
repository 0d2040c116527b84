"""Pages: the patch run list, and a page per run with a live progress bar, each server's state
and its output (htmx polls while the run is going), with pause/resume/cancel/retry for DBAs."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rocketdbaas.accounts.roles import is_fleet_operator
from rocketdbaas.core.errors import NotFound, ProblemError
from rocketdbaas.core.listing import sort_and_paginate
from rocketdbaas.dbms import DbmsType, resolve_dbms_type
from rocketdbaas.dbms.versions import rank_expression, version_ranks
from rocketdbaas.patching import services
from rocketdbaas.patching.models import ACTIVE_RUN_STATUSES, PatchRun, PatchType, RunStatus

CONTROLS = {
    "pause": services.pause_run,
    "resume": services.resume_run,
    "cancel": services.cancel_run,
    "retry-failed": services.retry_failed,
}


class RunFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any"), *RunStatus.choices])
    patch_type = forms.ChoiceField(
        required=False, choices=[("", "Any"), *PatchType.choices], label="Patch type"
    )
    cluster = forms.CharField(required=False, max_length=100)
    dry_run = forms.ChoiceField(
        required=False, choices=[("", "Real runs"), ("yes", "Dry runs"), ("all", "Both")], label="Dry runs"
    )


def _visible_run(request, run_id: int):
    try:
        return services.get_run(None, run_id, request.user)
    except NotFound as exc:
        raise Http404(exc.detail) from None


@login_required
def run_list(request, dbms_type: str | None = None):
    kind = None
    if dbms_type is not None:
        try:
            kind = resolve_dbms_type(dbms_type)
        except NotFound as exc:
            raise Http404(exc.detail) from None
    filters = RunFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    qs = services.visible_runs(request.user)
    if kind:
        qs = qs.filter(dbms_type=kind)
    dry = data.get("dry_run") or ""
    qs = services.list_filtered(
        qs,
        request.user,
        status=data.get("status") or None,
        patch_type=data.get("patch_type") or None,
        cluster=data.get("cluster") or None,
        dry_run={"": False, "yes": True}.get(dry),
    )
    # Versions sort in version order ("15.10" above "15.9"), ranked in Python.
    versions = PatchRun.objects.order_by().values_list("patch_version", flat=True).distinct()
    qs = qs.alias(version_rank=rank_expression("patch_version", version_ranks(sorted(versions))))
    page_obj, sort = sort_and_paginate(
        request,
        qs,
        sorts={"created": "created_at", "status": "status", "version": "version_rank"},
        default="-created",
    )
    for run in page_obj:
        run.progress = services.progress(run)
    return render(
        request,
        "patching/run_list.html",
        {
            "page_obj": page_obj,
            "sort": sort,
            "filters": filters,
            "dbms_type": kind,
            "dbms_label": DbmsType(kind).label if kind else "All",
        },
    )


def _detail_context(request, run) -> dict:
    return {
        "run": run,
        "progress": services.progress(run),
        "clusters": list(services.run_clusters(run, request.user)),
        "steps": list(services.run_steps(run, request.user)),
        "active": run.status in ACTIVE_RUN_STATUSES,
        "may_control": is_fleet_operator(request.user) and not run.dry_run,
    }


@login_required
def run_detail(request, run_id: int):
    run = _visible_run(request, run_id)
    return render(request, "patching/run_detail.html", _detail_context(request, run))


@login_required
def run_progress(request, run_id: int):
    """The polled part of the run page: progress, clusters and servers."""
    run = _visible_run(request, run_id)
    return render(request, "patching/_run_progress.html", _detail_context(request, run))


@login_required
def step_output(request, run_id: int, step_id: int):
    try:
        step = services.get_step(None, run_id, step_id, request.user)
    except NotFound as exc:
        raise Http404(exc.detail) from None
    return render(request, "patching/_step_output.html", {"step": step, "run_id": run_id})


@login_required
@require_POST
def run_control(request, run_id: int, action: str):
    if action not in CONTROLS:
        raise Http404("No such action.")
    if not is_fleet_operator(request.user):
        raise PermissionDenied("Patch runs are controlled by the dba or admin role.")
    run = _visible_run(request, run_id)
    try:
        CONTROLS[action](run.dbms_type, run.pk, request.user)
    except ProblemError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Patch run #{run.pk}: {action.replace('-', ' ')} requested.")
    return redirect("patching:run-detail", run.pk)
