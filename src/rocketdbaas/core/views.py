"""The home page, assembled from what each app adds to it, and the liveness probe."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from rocketdbaas.accounts.roles import is_fleet_operator
from rocketdbaas.core.plugins import app_modules


@login_required
def home(request):
    """The fleet at a glance (clusters and servers per DBMS type) and the open database requests.

    Each app that has a part of the page defines `def home_context(request) -> dict` in
    `<app>/home.py`; the page template shows what they return.
    """
    context = {"is_operator": is_fleet_operator(request.user)}
    for _app, module in app_modules("home"):
        context.update(module.home_context(request))
    return render(request, "core/home.html", context)


def healthz(request):
    """Liveness for load balancers: the app answers and its database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
