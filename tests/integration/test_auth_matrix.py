"""Every API operation, whichever app declares it, is checked for authentication and the write rules.

The operations come from the OpenAPI document, which ninja builds from the same table it routes
with, so a route added later is checked without anyone touching this file.
"""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from rocketdbaas.accounts.models import ApiToken
from rocketdbaas.api import api
from rocketdbaas.inventory.models import Application
from tests.support.fixtures import ApiClient, make_client, make_user

SAFE = {"get", "head", "options"}
PUBLIC = {"/api/openapi.json", "/api/docs"}


def _fill(path: str) -> str:
    # Auth and the write rules are checked before any parameter, so any value will do;
    # a real dbmsType keeps routes that resolve it early honest too.
    return re.sub(r"\{(?:\w+:)?(\w+)\}", lambda m: "postgresql" if "dbms" in m.group(1) else "1", path)


def operations() -> list[tuple[str, str]]:
    """(method, url) for every operation of every router, including ones hidden from the schema."""
    ops = set()
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            url = re.sub(r"/+", "/", f"/api/{prefix}/{path}")
            for op in view.operations:
                ops.update((method.lower(), _fill(url)) for method in op.methods)
    return sorted(ops)


OPERATIONS = operations()
WRITES = [(m, u) for m, u in OPERATIONS if m not in SAFE]


def test_the_matrix_covers_the_documented_operations():
    documented = {
        (method, _fill(path)) for path, item in api.get_openapi_schema()["paths"].items() for method in item
    }
    assert documented <= set(OPERATIONS)
    assert len(OPERATIONS) >= 12  # inventory alone has that many


def _call(client: ApiClient, method: str, url: str):
    return client.request(method.upper(), url, json={}) if method not in SAFE else client.get(url)


@pytest.mark.django_db
@pytest.mark.parametrize("method,url", OPERATIONS, ids=[f"{m.upper()} {u}" for m, u in OPERATIONS])
def test_anonymous_is_401(anon_api, method, url):
    response = _call(anon_api, method, url)
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/problem+json")


@pytest.fixture
def viewer_write_token(db):
    """A viewer's token that has the write flag: the role alone must stop writes."""
    return make_client(make_user("vic-viewer", "viewer"), write=True)


@pytest.mark.django_db
@pytest.mark.parametrize("method,url", WRITES, ids=[f"{m.upper()} {u}" for m, u in WRITES])
def test_read_only_token_and_viewer_cannot_write(readonly_api, viewer_write_token, method, url):
    for client in (readonly_api, viewer_write_token):
        response = _call(client, method, url)
        assert response.status_code == 403, (client, response.content)
        assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.django_db
def test_schema_and_docs_are_public(anon_api):
    for path in PUBLIC:
        assert anon_api.get(path).status_code == 200, path


# ---------------------------------------------------------------- the order credentials are judged in


def _bad_tokens(dba_user) -> dict[str, tuple[dict[str, str], str]]:
    """Authorization headers that must be refused, with the words the refusal must contain."""
    _, expired = ApiToken.issue(dba_user, write=True, expires_at=timezone.now() - timedelta(seconds=1))
    revoked, revoked_raw = ApiToken.issue(dba_user, write=True)
    revoked.revoked_at = timezone.now()
    revoked.save()
    return {
        "malformed": ({"Authorization": "Token abc"}, "malformed"),
        "empty bearer": ({"Authorization": "Bearer "}, "malformed"),
        "unknown": ({"Authorization": "Bearer rdb_nobody-issued-this"}, "not known"),
        "expired": ({"Authorization": f"Bearer {expired}"}, "expired"),
        "revoked": ({"Authorization": f"Bearer {revoked_raw}"}, "revoked"),
    }


def _assert_401(response, words: str):
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert words in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("method,url", OPERATIONS, ids=[f"{m.upper()} {u}" for m, u in OPERATIONS])
def test_a_bad_token_is_401_saying_why_even_with_a_browser_session(dba_user, method, url):
    """A bad token is judged on its own: neither a logged-in session nor a missing CSRF token
    changes the answer, so automation learns that its token ran out."""
    browser = Client()
    browser.force_login(dba_user)
    for headers, words in _bad_tokens(dba_user).values():
        if method in SAFE:
            response = browser.get(url, headers=headers)
        else:
            response = browser.generic(method.upper(), url, "{}", "application/json", headers=headers)
        _assert_401(response, words)


@pytest.mark.django_db
def test_no_credentials_is_401_not_a_csrf_failure(anon_api):
    for method, url in (("POST", "/api/applications"), ("PATCH", "/api/applications/x")):
        _assert_401(anon_api.request(method, url, json={"name": "x"}), "No credentials")
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_a_browser_session_needs_csrf_for_writes_only(dba_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(dba_user)
    assert browser.get("/api/applications").status_code == 200
    response = browser.post("/api/applications", {"name": "app"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_read_only_and_viewer_tokens_read_but_do_not_write(readonly_api, viewer_api):
    for client in (readonly_api, viewer_api):
        assert client.get("/api/applications").status_code == 200
        response = client.post("/api/applications", json={"name": "app"})
        assert response.status_code == 403, response.content
        assert "read-only" in response.json()["detail"] or "role" in response.json()["detail"]
    assert not Application.objects.exists()
