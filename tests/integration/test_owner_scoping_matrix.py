"""Every GET route and page, whichever app declares it, is checked for owner scoping.

Two applications share the fleet: `alpha` (owned by the caller) and `zulubank`. Everything of
zulubank carries "zulu" in its name, host, label, e-mail or text, and a patch run spans both.
For every API GET operation (from the routers, like the auth matrix) and every page (from the
URL patterns), the owner of alpha asks with zulubank's ids and names, and with zulubank's
names as list filters. The answer is the same as for an object that does not exist (a 404,
never a 403 that would tell it exists) or a list without zulubank's objects, and no response
body, HTML, JSON or CSV, contains "zulu" beyond the values the caller sent.

A path parameter this file has no value for fails the matrix, so a route added later must
name what it shows before it passes.
"""

import re
from datetime import date, timedelta
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from rocketdbaas.accounts.models import Role
from rocketdbaas.activities.models import Activity, ActivityType
from rocketdbaas.api import api
from rocketdbaas.backups.models import Backup, BackupStatus, BackupType
from rocketdbaas.contacts.models import ApplicationContact, Contact, NotificationEvent, NotificationLog
from rocketdbaas.intake.models import IntakeRequest
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.patching.models import (
    ClusterPatchSettings,
    PatchRecipe,
    PatchRun,
    PatchRunCluster,
    PatchStep,
    RunStatus,
    StepOutcome,
    StepStatus,
)
from rocketdbaas.telemetry.models import (
    CollectionResult,
    CollectionRun,
    DailySize,
    DatabaseInfo,
    Outcome,
    RunTrigger,
    SampleSource,
    SizeSample,
    VersionSample,
)
from tests.support.fixtures import make_client, make_user

SECRET = "zulu"  # in every name, host and text of the other team's objects
DBMS = "postgresql"

# Path parameters and what the owner of alpha asks with: the other team's object.
PATH_VALUES = {
    "dbms_type": lambda f: DBMS,
    "cluster_name": lambda f: f["zulu_cluster"].name,
    "run_id": lambda f: f["zulu_run"].pk,
    "activity_id": lambda f: f["zulu_activity"].pk,
    "backup_id": lambda f: f["zulu_backup"].pk,
    "contact_id": lambda f: f["zulu_contact"].pk,
    "notification_id": lambda f: f["zulu_notification"].pk,
    "reference": lambda f: f["zulu_request"].reference,
}
# Where one parameter name means different things, the route says which.
ROUTE_VALUES = {
    "/api/applications/{name}": {"name": lambda f: f["zulu_app"].name},
    "/api/applications/{name}/contacts": {"name": lambda f: f["zulu_app"].name},
    "/api/{dbms_type}/collectionRuns/{run_id}": {"run_id": lambda f: f["zulu_collection"].pk},
    "/api/{dbms_type}/patchRuns/{run_id}/steps/{step_id}/output": {
        "run_id": lambda f: f["shared_run"].pk,
        "step_id": lambda f: f["zulu_step"].pk,
    },
    "clusters/<str:dbms_type>/<str:name>/": {"name": lambda f: f["zulu_cluster"].name},
    "pool/<str:dbms_type>/<str:name>/status/": {"name": lambda f: f["zulu_server"].name},
    "applications/<str:name>/": {"name": lambda f: f["zulu_app"].name},
    "applications/<str:name>/sign-up/": {"name": lambda f: f["zulu_app"].name},
    "applications/<str:name>/attach/": {"name": lambda f: f["zulu_app"].name},
    "applications/<str:name>/contacts/<int:contact_id>/": {"name": lambda f: f["zulu_app"].name},
    "applications/<str:name>/contacts/<int:contact_id>/detach/": {"name": lambda f: f["zulu_app"].name},
    "patching/runs/<int:run_id>/steps/<int:step_id>/output/": {
        "run_id": lambda f: f["shared_run"].pk,
        "step_id": lambda f: f["zulu_step"].pk,
    },
    "patching/runs/<int:run_id>/<slug:action>/": {"action": lambda f: "pause"},
}
# Routes whose objects belong to no application: fleet-wide configuration that every role may
# read or that only dba/admin reach. They are still called, and their bodies still checked.
UNSCOPED = {
    "/api/{dbms_type}/patchRecipes/{name}": {"name": lambda f: f["recipe"].name},
    "/api/{dbms_type}/credentials/{credential_id}": {"credential_id": lambda f: 1},
    "/api/{dbms_type}/reports/rateCards/{card_id}": {"card_id": lambda f: 1},
    "/api/{dbms_type}/poolServersPullAndLock/{number_of_servers}": {"number_of_servers": lambda f: 1},
}
# Pages that are not the product's own: Django's admin is for staff (owners are not), login
# and logout are the same for everyone, healthz names nothing.
NOT_PRODUCT_PAGES = ("admin/", "accounts/login/", "accounts/logout/", "healthz")
# List filters an owner might try with the other team's names.
API_QUERY_VALUES = {
    "cluster": lambda f: f["zulu_cluster"].name,
    "application": lambda f: f["zulu_app"].name,
    "status": lambda f: PoolStatus.USED,
    "server": lambda f: f["zulu_server"].name,
    "server_name": lambda f: f["zulu_server"].name,
}
PAGE_QUERIES = [
    {},
    {"cluster": "zulu-pg", "application": "zulubank", "status": PoolStatus.USED},
    {"q": "zulu"},
    {"format": "csv"},
]


def _api_routes() -> list[tuple[str, object]]:
    routes = set()
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            url = re.sub(r"/+", "/", f"/api/{prefix}/{path}")
            for op in view.operations:
                if "GET" in op.methods:
                    routes.add((url.rstrip("/") or "/", op))
    return sorted(routes, key=lambda r: r[0])


def _query_names(op) -> set[str]:
    names = set()
    for model in op.models:
        for name, field in model.model_fields.items():
            if getattr(model, "__ninja_param_source__", "") == "query":
                names.add(field.alias or name)
    return names


def _pages() -> list[str]:
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return sorted(
        {
            r
            for r in walk(get_resolver().url_patterns)
            if not r.startswith("api/") and not r.startswith(NOT_PRODUCT_PAGES)
        }
    )


API_ROUTES = _api_routes()
API_PATHS = sorted({path for path, _ in API_ROUTES})
PAGES = _pages()


PARAM = re.compile(r"\{(?:\w+:)?(\w+)\}|<(?:\w+:)?(\w+)>")


def _params(route: str) -> list[str]:
    return [a or b for a, b in PARAM.findall(route)]


def _value(route: str, param: str, fleet):
    for table in (ROUTE_VALUES.get(route, {}), UNSCOPED.get(route, {}), PATH_VALUES):
        if param in table:
            return table[param](fleet)
    pytest.fail(f"{route}: no value for its parameter {param!r}; say what the owner of alpha asks with")


def _fill(route: str, fleet, unknown: bool = False) -> tuple[str, list[str]]:
    sent = []

    def one(match):
        param = match.group(1) or match.group(2)
        value = _value(route, param, fleet)
        if unknown and param not in ("dbms_type", "action"):
            value = 987654 if isinstance(value, int) else "no-such-thing"
        sent.append(str(value))
        return quote(str(value), safe="")

    url = PARAM.sub(one, route)
    return (url if url.startswith("/") else "/" + url), sent


def _strip(body: str, sent: list[str]) -> str:
    for value in sorted(set(sent), key=len, reverse=True):
        for form in {value, quote(value, safe=""), quote(value), value.upper(), value.lower()}:
            body = body.replace(form, "")
    return body.lower()


def _assert_clean(response, sent: list[str], where: str) -> None:
    body = _strip(response.content.decode(errors="replace"), sent)
    assert SECRET not in body, (
        f"{where} ({response.status_code}) shows the other team: …{body[max(0, body.find(SECRET) - 200) : body.find(SECRET) + 100]}…"
    )


@pytest.fixture
def fleet(db):
    now = timezone.now()
    owner = make_user("olga-alpha", Role.OWNER)
    other = make_user("zed-zulu", Role.OWNER)
    alpha = Application.objects.create(name="alpha", cost_centre="cc-a")
    zulu = Application.objects.create(name="zulubank", cost_centre="cc-zulu", description="zulu payments")
    alpha.owners.add(owner)
    zulu.owners.add(other)
    recipe = PatchRecipe.objects.create(name="minor", dbms_type=DBMS, patch_type="DB", command="true")
    run = PatchRun.objects.create(
        dbms_type=DBMS,
        patch_type="DB",
        patch_version="15.10",
        recipe=recipe,
        status=RunStatus.FAILED,
        target={"clusters": ["alpha-pg", "zulu-pg"]},
        reason="zulu-db-1 failed",
    )
    f = {"owner": owner, "recipe": recipe, "shared_run": run, "alpha_app": alpha, "zulu_app": zulu}
    for prefix, app in (("alpha", alpha), ("zulu", zulu)):
        cluster = Cluster.objects.create(
            name=f"{prefix}-pg", dbms_type=DBMS, application=app, description=f"{prefix} db"
        )
        server = Server.objects.create(
            name=f"{prefix}-db-1",
            host=f"{prefix}-host-1.internal",
            dbms_type=DBMS,
            cpu=4,
            ram=16,
            db_gigs=100,
            status=PoolStatus.USED,
            cluster=cluster,
            role="primary",
            db_version="15.9",
            datacenter=f"{prefix}-dc",
        )
        ClusterPatchSettings.objects.create(cluster=cluster)
        rc = PatchRunCluster.objects.create(
            run=run, cluster=cluster, batch=1, position=0 if prefix == "alpha" else 1
        )
        step = PatchStep.objects.create(
            run=run,
            run_cluster=rc,
            cluster=cluster,
            server=server,
            batch=1,
            position=0,
            status=StepStatus.FAILED if prefix == "zulu" else StepStatus.SUCCEEDED,
            outcome=StepOutcome.FAILED if prefix == "zulu" else StepOutcome.SUCCEEDED,
            reason=f"{prefix} reason",
            output=f"patching {prefix}-db-1 on {prefix}-host-1.internal",
            started_at=now,
        )
        own_run = PatchRun.objects.create(
            dbms_type=DBMS,
            patch_type="DB",
            patch_version="15.10",
            recipe=recipe,
            target={"clusters": [cluster.name]},
        )
        PatchRunCluster.objects.create(run=own_run, cluster=cluster, batch=1, position=0, active=False)
        backup = Backup.objects.create(
            dbms_type=DBMS,
            cluster=cluster,
            server=server,
            label=f"{prefix}-full-1",
            backup_type=BackupType.FULL,
            status=BackupStatus.SUCCEEDED,
            started_at=now - timedelta(hours=2),
            stopped_at=now - timedelta(hours=1),
            repository=f"{prefix}-repo",
            bkup_size_gigs=3,
        )
        activity = Activity.objects.create(
            dbms_type=DBMS,
            type=ActivityType.FAILOVER,
            cluster=cluster,
            server=server,
            occurred_at=now - timedelta(days=1),
            planned=False,
            summary=f"{prefix}-db-1 failed over",
        )
        Activity.objects.create(
            dbms_type=DBMS,
            type=ActivityType.DOWN,
            cluster=cluster,
            server=server,
            occurred_at=now - timedelta(days=1, hours=1),
            summary=f"{prefix}-pg down",
        )
        contact = Contact.objects.create(name=f"{prefix.title()} Person", email=f"person@{prefix}.example")
        ApplicationContact.objects.create(application=app, contact=contact)
        notification = NotificationLog.objects.create(
            event_key=f"{prefix}-key",
            event=NotificationEvent.PATCH_FINISHED,
            application=app,
            contact=contact,
            recipient_email=contact.email,
            recipient_name=contact.name,
            subject=f"Patching finished: {prefix}-pg",
            body_text=f"{prefix}-db-1 patched",
        )
        collection = CollectionRun.objects.create(trigger=RunTrigger.API, dbms_type=DBMS, cluster=cluster)
        CollectionResult.objects.create(
            run=collection,
            server=server,
            cluster=cluster,
            outcome=Outcome.UNREACHABLE,
            error=f"{prefix}-host-1.internal unreachable",
            collected_at=now,
        )
        SizeSample.objects.create(
            dbms_type=DBMS,
            cluster=cluster,
            server=server,
            database=f"{prefix}_db",
            size_bytes=10**9,
            sampled_at=now - timedelta(hours=3),
            source=SampleSource.PUSHED,
        )
        DailySize.objects.create(
            dbms_type=DBMS,
            cluster=cluster,
            server=server,
            database=f"{prefix}_db",
            day=date.today() - timedelta(days=2),
            max_bytes=10**9,
            avg_bytes=10**9,
            samples=1,
        )
        VersionSample.objects.create(
            dbms_type=DBMS,
            server=server,
            cluster=cluster,
            version="15.9",
            sampled_at=now,
            source=SampleSource.PUSHED,
        )
        DatabaseInfo.objects.create(
            cluster=cluster,
            name=f"{prefix}_db",
            size_bytes=10**9,
            reported_by=server,
            source=SampleSource.PUSHED,
            first_seen_at=now,
            last_seen_at=now,
        )
        request = IntakeRequest.objects.create(
            reference=f"{prefix.upper()}-0001",
            submitted_by=owner if prefix == "alpha" else other,
            requester_name=f"{prefix.title()} Requester",
            requester_email=f"req@{prefix}.example",
            application=app,
            dbms_type=DBMS,
            environment="prod",
            number_of_servers=1,
            cpu=2,
            ram=4,
            db_gigs=10,
            expected_size_gigs=5,
            cost_centre=f"cc-{prefix}",
            needed_by=date.today() + timedelta(days=30),
            notes=f"{prefix} notes",
        )
        f |= {
            f"{prefix}_cluster": cluster,
            f"{prefix}_server": server,
            f"{prefix}_step": step,
            f"{prefix}_run": own_run,
            f"{prefix}_backup": backup,
            f"{prefix}_activity": activity,
            f"{prefix}_contact": contact,
            f"{prefix}_notification": notification,
            f"{prefix}_collection": collection,
            f"{prefix}_request": request,
        }
    # A contact of both applications: alpha's owner sees it, but not that it serves zulubank.
    shared = Contact.objects.create(name="Shared Person", email="shared@both.example")
    ApplicationContact.objects.create(application=alpha, contact=shared)
    ApplicationContact.objects.create(application=zulu, contact=shared)
    # A spare in the pool and a pool change of the other team's server.
    Server.objects.create(name="spare-1", dbms_type=DBMS, cpu=2, ram=4, db_gigs=10)
    Activity.objects.create(
        dbms_type=DBMS,
        type=ActivityType.POOL_CHANGE,
        server=f["zulu_server"],
        occurred_at=now,
        summary="zulu-db-1 Free → Used",
    )
    return f


@pytest.fixture
def owner_api(fleet):
    return make_client(fleet["owner"], write=False)


@pytest.fixture
def owner_browser(fleet):
    client = Client()
    client.force_login(fleet["owner"])
    return client


def test_the_matrix_covers_every_get_route_and_page():
    documented = {
        path.rstrip("/") for path, item in api.get_openapi_schema()["paths"].items() if "get" in item
    }
    assert documented <= set(API_PATHS)
    assert len(API_PATHS) >= 40 and len(PAGES) >= 40, (len(API_PATHS), len(PAGES))
    known = set(PATH_VALUES) | {p for table in (*ROUTE_VALUES.values(), *UNSCOPED.values()) for p in table}
    for route in API_PATHS + PAGES:
        missing = set(_params(route)) - known
        assert not missing, f"{route}: no value for {missing}; add what the owner of alpha asks with"


@pytest.mark.parametrize("route", API_PATHS)
def test_api_route_shows_an_owner_nothing_of_another_application(fleet, owner_api, route):
    ops = [op for path, op in API_ROUTES if path == route]
    url, sent = _fill(route, fleet)
    queries = [{}]
    names = set().union(*(_query_names(op) for op in ops))
    if filters := {k: v(fleet) for k, v in API_QUERY_VALUES.items() if k in names}:
        queries.append(filters)
    for query in queries:
        sent_here = sent + [str(v) for v in query.values()]
        response = owner_api.get(url + ("?" + urlencode(query) if query else ""))
        _assert_clean(response, sent_here, f"GET {url} {query}")
    if route not in UNSCOPED and set(_params(route)) - {"dbms_type"}:
        # A foreign object answers exactly like one that does not exist, and never with itself.
        status = owner_api.get(url).status_code
        unknown_url, _ = _fill(route, fleet, unknown=True)
        assert status == owner_api.get(unknown_url).status_code, (url, status)
        assert status != 200, url


@pytest.mark.parametrize("route", PAGES)
def test_page_shows_an_owner_nothing_of_another_application(fleet, owner_browser, route):
    url, sent = _fill(route, fleet)
    for query in PAGE_QUERIES:
        response = owner_browser.get(url, query)
        _assert_clean(response, sent + [str(v) for v in query.values()], f"GET {url} {query}")
    if any(p not in ("dbms_type", "action") for p in _params(route)):
        unknown_url, _ = _fill(route, fleet, unknown=True)
        status = owner_browser.get(url).status_code
        assert status == owner_browser.get(unknown_url).status_code, (url, status)
        assert status != 200, url


def test_a_run_spanning_two_applications_counts_only_the_owners_servers(fleet, owner_api):
    body = owner_api.get(f"/api/{DBMS}/patchRuns/{fleet['shared_run'].pk}").json()
    assert [s["server"] for s in body["steps"]] == ["alpha-db-1"]
    assert [c["cluster"] for c in body["clusters"]] == ["alpha-pg"]
    assert (body["progress"]["total"], body["progress"]["failed"]) == (1, 0)
    listed = owner_api.get(f"/api/{DBMS}/patchRuns", cluster="zulu-pg").json()
    assert listed["count"] == 0
    assert owner_api.get(f"/api/{DBMS}/patchSettings/zulu-pg").status_code == 404
    assert owner_api.get(f"/api/{DBMS}/poolServers", status="Used").json()["count"] == 1


@pytest.mark.parametrize("role", ["auditor", ""])
def test_an_unknown_role_sees_nothing(fleet, role):
    stranger = make_user("sam-stranger", Role.VIEWER)
    fleet["alpha_app"].owners.add(stranger)
    type(stranger).objects.filter(pk=stranger.pk).update(role=role)
    stranger.refresh_from_db()
    client = make_client(stranger, write=False)
    for path in (
        "/api/applications",
        f"/api/{DBMS}/clustersServers",
        f"/api/{DBMS}/patchRuns",
        "/api/contacts",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
        body = response.json()
        assert body.get("count", len(body.get("items", []))) == 0, (path, body)
    assert client.get(f"/api/applications/{fleet['alpha_app'].name}").status_code == 404
    browser = Client()
    browser.force_login(stranger)
    page = browser.get(f"/servers/{DBMS}/").content.decode()
    assert "alpha-db-1" not in page and "zulu-db-1" not in page
