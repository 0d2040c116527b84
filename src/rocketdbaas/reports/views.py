"""Report pages (chart, table, CSV download) and the application owners' dashboard."""

import csv
import re
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from rocketdbaas.accounts.scoping import visible_application_ids
from rocketdbaas.contacts import services as contact_services
from rocketdbaas.core.errors import ProblemError
from rocketdbaas.dbms import DbmsType, resolve_dbms_type
from rocketdbaas.reports import services
from rocketdbaas.reports.catalog import BY_SLUG, REPORTS, parse_params
from rocketdbaas.reports.forms import ContactSignUpForm

TABLE_PAGE_SIZE = 100
# Spreadsheets run cells that start with these as formulas; a leading quote keeps them text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _dbms_type_or_404(value: str) -> DbmsType:
    try:
        return resolve_dbms_type(value)
    except ProblemError as exc:
        raise Http404(exc.detail) from None


@login_required
def index(request: HttpRequest, dbms_type: str) -> HttpResponse:
    dbms = _dbms_type_or_404(dbms_type)
    return render(request, "reports/index.html", {"dbms": dbms, "reports": REPORTS})


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value.isoformat() if isinstance(value, date) else str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def _csv_response(report: services.Report) -> HttpResponse:
    period = f"-{report.since}-{report.until}" if report.since else ""
    filename = f"rocketdbaas-{report.dbms_type}-{report.slug}{period}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([column.label for column in report.columns])
    writer.writerows([_csv_cell(row.get(column.key)) for column in report.columns] for row in report.rows)
    return response


@login_required
def report_page(request: HttpRequest, dbms_type: str, slug: str) -> HttpResponse:
    dbms = _dbms_type_or_404(dbms_type)
    spec = BY_SLUG[slug]
    shown = {key: request.GET.get(key, "") for key in ("since", "until", "bucket", "days")}
    context: dict[str, Any] = {
        "dbms": dbms,
        "spec": spec,
        "reports": REPORTS,
        "query": request.GET,
        "buckets": services.SIZE_BUCKETS,
        "report": None,
        # What the filter form shows: the user's input, else what the report used.
        "shown": shown,
    }
    try:
        params = parse_params(spec, request.GET)
    except ProblemError as exc:
        context["errors"] = exc.errors or [{"message": exc.detail}]
        return render(request, "reports/report.html", context, status=400)
    report = spec.build(dbms.value, params, visible_application_ids(request.user))
    if request.GET.get("format") == "csv":
        return _csv_response(report)
    csv_query = request.GET.copy()
    csv_query["format"] = "csv"
    api_query = request.GET.copy()
    api_query.pop("page", None)
    shown["since"] = shown["since"] or report.since or ""
    shown["until"] = shown["until"] or report.until or ""
    shown["bucket"] = params.bucket
    shown["days"] = shown["days"] or str(params.days)
    context.update(
        report=report,
        # The table pages through the aggregated rows; the CSV and JSON carry them all.
        page_obj=Paginator(report.rows, TABLE_PAGE_SIZE).get_page(request.GET.get("page")),
        chart_id=f"chart-{slug}-data",
        csv_url=f"?{csv_query.urlencode()}",
        api_url=f"/api/{dbms.value}/reports/{slug}" + (f"?{api_query.urlencode()}" if api_query else ""),
        summary_template=f"reports/summary/{slug}.html",
    )
    return render(request, "reports/report.html", context)


def _form_field(api_field: str | None, form) -> str | None:
    """Map a service's camelCase error field onto the form's field (None: a form-wide error)."""
    if not api_field:
        return None
    name = re.sub(r"(?<!^)([A-Z])", r"_\1", api_field).lower()
    return name if name in form.fields else None


@login_required
def my_databases(request: HttpRequest) -> HttpResponse:
    dashboard = services.owner_dashboard(request.user)
    # Owners manage their own applications' contacts unless they only have the viewer role
    # (contacts.services.can_manage_application, which sign_up_contact enforces again).
    managed = contact_services.managed_application_ids(request.user)
    manageable = [a for a in dashboard.applications if managed is None or a.pk in managed]
    form = ContactSignUpForm(request.POST or None, applications=manageable)
    status = 200
    if request.method == "POST":
        if not manageable:
            raise PermissionDenied("You may not sign up contacts for any application.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                link = contact_services.sign_up_contact(
                    request.user,
                    data["application"],
                    {key: data[key] for key in ("name", "email", "phone", "team")},
                    role=data["role"],
                    patching_emails=data["patching_emails"],
                )
            except ProblemError as exc:
                for error in exc.errors or [{"field": None, "message": exc.detail}]:
                    form.add_error(_form_field(error.get("field"), form), error["message"])
            else:
                messages.success(request, f"{link.contact.name} is now a contact of {link.application.name}.")
                return redirect("reports:my-databases")
        status = 400
    return render(
        request,
        "reports/my_databases.html",
        {"dashboard": dashboard, "form": form, "can_sign_up": bool(manageable)},
        status=status,
    )
