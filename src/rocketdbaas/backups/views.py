"""Pages: the backup catalogue per DBMS type (or one cluster), pinning, and roll-off with a
dry-run preview before anything expires."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from rocketdbaas.accounts.roles import is_fleet_operator
from rocketdbaas.activities.services import visible_cluster
from rocketdbaas.backups import services
from rocketdbaas.backups.forms import BackupFilterForm
from rocketdbaas.core.errors import NotFound, ProblemError
from rocketdbaas.core.listing import sort_and_paginate
from rocketdbaas.dbms import DbmsType, resolve_dbms_type

PREVIEW_ROWS = 200


def _kind(dbms_type: str) -> DbmsType:
    try:
        return resolve_dbms_type(dbms_type)
    except NotFound as exc:
        raise Http404(exc.detail) from None


def _require_dba(request) -> None:
    if not is_fleet_operator(request.user):
        raise PermissionDenied("Backups are changed by the dba or admin role.")


def _back(request, kind) -> str:
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return reverse("backups:list", args=[kind])


@login_required
def backup_list(request, dbms_type: str):
    kind = _kind(dbms_type)
    filters = BackupFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    state = data.get("state") or "live"
    cluster = None
    qs = services.filtered_backups(
        kind,
        request.user,
        repository=data.get("repository") or None,
        backup_types=[data["backup_type"]] if data.get("backup_type") else None,
        statuses=[data["status"]] if data.get("status") else None,
        expired={"live": False, "expired": True}.get(state),
    )
    if data.get("cluster"):
        # Resolved here (not by filtered_backups) because the page also needs the cluster's policy.
        try:
            cluster = visible_cluster(kind, data["cluster"], request.user)
        except NotFound as exc:
            filters.add_error("cluster", exc.detail)
            qs = qs.none()
        else:
            qs = qs.filter(cluster=cluster)
    page_obj, sort = sort_and_paginate(
        request,
        qs,
        sorts={
            "start": ("started_at",),
            "size": ("bkup_size_gigs",),
            "cluster": ("cluster__name", "started_at"),
        },
        default="-start",
    )
    policy = services.effective_policy(kind, cluster)
    return render(
        request,
        "backups/list.html",
        {
            "dbms_type": kind,
            "dbms_label": kind.label,
            "filters": filters,
            "page_obj": page_obj,
            "sort": sort,
            "cluster": cluster,
            "policy": services.as_rule(policy).describe() if policy else None,
            "may_change": is_fleet_operator(request.user),
        },
    )


@login_required
def rolloff_preview(request, dbms_type: str):
    """The dry run, as an htmx fragment: what would expire and why."""
    kind = _kind(dbms_type)
    _require_dba(request)
    cluster = request.GET.get("cluster") or None
    try:
        report = services.roll_off_backups(kind, dry_run=True, cluster=cluster, max_items=PREVIEW_ROWS)
    except ProblemError as exc:
        raise Http404(exc.detail) from None
    return render(
        request,
        "backups/_rolloff_preview.html",
        {
            "dbms_type": kind,
            "report": report,
            "items": report.items,
            "more": max(0, report.expire_count - PREVIEW_ROWS),
            "cluster": cluster,
        },
    )


@login_required
@require_POST
def rolloff_apply(request, dbms_type: str):
    kind = _kind(dbms_type)
    _require_dba(request)
    try:
        report = services.roll_off_backups(
            kind, dry_run=False, cluster=request.POST.get("cluster") or None, user=request.user
        )
    except ProblemError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(
            request, f"Roll-off expired {report.expire_count} backups ({report.reclaimed_gigs} GiB)."
        )
    return redirect(_back(request, kind))


@login_required
@require_POST
def pin(request, dbms_type: str, backup_id: int, pinned: bool):
    kind = _kind(dbms_type)
    _require_dba(request)
    try:
        backup = services.set_pinned(dbms_type=kind, backup_id=backup_id, pinned=pinned, user=request.user)
    except NotFound as exc:
        raise Http404(exc.detail) from None
    except ProblemError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{'Pinned' if pinned else 'Unpinned'} {backup.label}.")
    return redirect(_back(request, kind))
