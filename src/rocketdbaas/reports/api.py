"""/api/{dbmsType}/reports/…: every report as JSON, and the cost rate card."""

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Status
from ninja.pagination import paginate

from rocketdbaas.accounts.roles import require_admin
from rocketdbaas.accounts.scoping import visible_application_ids
from rocketdbaas.core.pagination import LimitOffset
from rocketdbaas.core.schemas import PROBLEMS, ApiRouter, partial_update
from rocketdbaas.dbms import resolve_dbms_type
from rocketdbaas.reports import services
from rocketdbaas.reports.catalog import BY_SLUG, parse_params
from rocketdbaas.reports.models import RateCard
from rocketdbaas.reports.schemas import (
    BackupReport,
    CostReport,
    CountReport,
    DowntimeReport,
    FailoverReport,
    RateCardIn,
    RateCardOut,
    RateCardPatch,
    ReportListItem,
    SizeReport,
    UnpatchedReport,
)

router = ApiRouter()

MONTH = r"^\d{4}-\d{2}$"
SINCE = Query(None, pattern=MONTH, description="First month, YYYY-MM (default: 11 months before `until`)")
UNTIL = Query(None, pattern=MONTH, description="Last month, YYYY-MM (default: the current month)")


def _report(request: HttpRequest, dbms_type: str, slug: str, **query: Any) -> dict[str, Any]:
    """Run one report for the caller: owners get only their applications' rows."""
    dbms = resolve_dbms_type(dbms_type)
    spec = BY_SLUG[slug]
    params = parse_params(spec, {k: None if v is None else str(v) for k, v in query.items()})
    report = spec.build(dbms.value, params, visible_application_ids(request.user))
    return {
        "dbms_type": report.dbms_type,
        "since": report.since,
        "until": report.until,
        "bucket": params.bucket,
        "notes": report.notes,
        "summary": report.summary,
        "rows": report.rows,
    }


@router.get(
    "/{dbms_type}/reports", response={200: list[ReportListItem], **PROBLEMS}, summary="List the reports"
)
def list_reports(request: HttpRequest, dbms_type: str):
    dbms = resolve_dbms_type(dbms_type)
    return [
        {
            "slug": spec.slug,
            "title": spec.title,
            "description": spec.description,
            "path": f"/api/{dbms.value}/reports/{spec.slug}",
        }
        for spec in BY_SLUG.values()
    ]


@router.get(
    "/{dbms_type}/reports/counts",
    response={200: CountReport, **PROBLEMS},
    summary="Number of databases and clusters by application and environment",
)
def counts_report(request: HttpRequest, dbms_type: str):
    return _report(request, dbms_type, "counts")


@router.get(
    "/{dbms_type}/reports/sizes",
    response={200: SizeReport, **PROBLEMS},
    summary="Size of databases per cluster over time",
)
def sizes_report(
    request: HttpRequest,
    dbms_type: str,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    bucket: Literal["day", "week", "month"] = "month",
):
    return _report(request, dbms_type, "sizes", since=since, until=until, bucket=bucket)


@router.get(
    "/{dbms_type}/reports/backups",
    response={200: BackupReport, **PROBLEMS},
    summary="Size of backups per cluster and month: written and held",
)
def backups_report(
    request: HttpRequest, dbms_type: str, since: str | None = SINCE, until: str | None = UNTIL
):
    return _report(request, dbms_type, "backups", since=since, until=until)


@router.get(
    "/{dbms_type}/reports/failovers",
    response={200: FailoverReport, **PROBLEMS},
    summary="Unplanned failovers per month, with those lacking a ticket flagged",
)
def failovers_report(
    request: HttpRequest, dbms_type: str, since: str | None = SINCE, until: str | None = UNTIL
):
    return _report(request, dbms_type, "failovers", since=since, until=until)


@router.get(
    "/{dbms_type}/reports/downtime",
    response={200: DowntimeReport, **PROBLEMS},
    summary="Downtime and availability per cluster and month",
)
def downtime_report(
    request: HttpRequest, dbms_type: str, since: str | None = SINCE, until: str | None = UNTIL
):
    return _report(request, dbms_type, "downtime", since=since, until=until)


@router.get(
    "/{dbms_type}/reports/unpatched",
    response={200: UnpatchedReport, **PROBLEMS},
    summary="Unpatched servers and clusters, with the list",
)
def unpatched_report(
    request: HttpRequest,
    dbms_type: str,
    days: int | None = Query(None, ge=1, le=3650, description="No successful patch in this many days"),
):
    return _report(request, dbms_type, "unpatched", days=days)


@router.get(
    "/{dbms_type}/reports/costs",
    response={200: CostReport, **PROBLEMS},
    summary="Cost per application per month from the rate card",
)
def costs_report(request: HttpRequest, dbms_type: str, since: str | None = SINCE, until: str | None = UNTIL):
    return _report(request, dbms_type, "costs", since=since, until=until)


# ---------------------------------------------------------------- rate card


@router.get(
    "/{dbms_type}/reports/rateCards",
    response={200: list[RateCardOut], **PROBLEMS},
    summary="List the rate cards, newest first",
)
@paginate(LimitOffset)
def list_rate_cards(request: HttpRequest, dbms_type: str):
    return RateCard.objects.filter(dbms_type=resolve_dbms_type(dbms_type)).order_by("-effective_from")


@router.get(
    "/{dbms_type}/reports/rateCards/{card_id}",
    response={200: RateCardOut, **PROBLEMS},
    summary="Read a rate card",
)
def get_rate_card(request: HttpRequest, dbms_type: str, card_id: int):
    return services.get_rate_card(resolve_dbms_type(dbms_type), card_id)


@router.post(
    "/{dbms_type}/reports/rateCards",
    response={201: RateCardOut, **PROBLEMS},
    summary="Add a rate card (admins)",
    description="Rates change at month boundaries: both dates are the first day of a month. "
    "A period that overlaps another card of the type is a 409.",
)
def create_rate_card(request: HttpRequest, dbms_type: str, payload: RateCardIn):
    dbms = resolve_dbms_type(dbms_type)
    require_admin(request)
    return Status(201, services.create_rate_card(dbms, user=request.user, **payload.model_dump()))


@router.patch(
    "/{dbms_type}/reports/rateCards/{card_id}",
    response={200: RateCardOut, **PROBLEMS},
    summary="Change a rate card (admins)",
    description="To end a card, set `effectiveTo`; cards are not deleted because past costs use them.",
)
def update_rate_card(request: HttpRequest, dbms_type: str, card_id: int, payload: RateCardPatch):
    dbms = resolve_dbms_type(dbms_type)
    require_admin(request)
    changes = partial_update(payload, nullable=("effective_to",))
    return services.update_rate_card(dbms, card_id, user=request.user, **changes)
