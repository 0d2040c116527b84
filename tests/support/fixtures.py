"""Shared fixtures: users of every role, their API tokens, and a JSON API client."""

import json as jsonlib

import pytest
from django.test import Client

from rocketdbaas.accounts.models import ApiToken, Role, User
from tests.support.smtp import smtp_server  # noqa: F401 - shared fixture: a real SMTP server


class ApiClient:
    """Calls the API as a bearer token (or anonymously) and decodes JSON answers."""

    def __init__(self, token: str | None = None):
        self.client = Client()
        self.token = token

    def _headers(self, extra):
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(self, method: str, path: str, json=None, data=None, headers=None, **params):
        kwargs = {"headers": self._headers(headers)}
        if json is not None:
            kwargs["data"] = jsonlib.dumps(json)
            kwargs["content_type"] = "application/json"
        elif data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = "application/json"
        if params:
            kwargs["query_params"] = params
        return getattr(self.client, method.lower())(path, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path, json=None, **kw):
        return self.request("DELETE", path, json=json, **kw)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's deliberate slowness costs ~0.3 s per test user; tests don't need it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(username: str, role: Role, **extra) -> User:
    user = User.objects.create_user(username=username, password="correct-horse-9", role=role, **extra)
    return user


def make_client(user: User, write: bool = True) -> ApiClient:
    _, raw = ApiToken.issue(user, write=write, name="test")
    return ApiClient(raw)


@pytest.fixture
def admin_user(db):
    return make_user("alice-admin", Role.ADMIN)


@pytest.fixture
def dba_user(db):
    return make_user("dave-dba", Role.DBA)


@pytest.fixture
def viewer_user(db):
    return make_user("vera-viewer", Role.VIEWER)


@pytest.fixture
def owner_user(db):
    return make_user("olga-owner", Role.OWNER)


@pytest.fixture
def admin_api(admin_user):
    return make_client(admin_user)


@pytest.fixture
def dba_api(dba_user):
    return make_client(dba_user)


@pytest.fixture
def readonly_api(dba_user):
    """A dba's token without the write flag."""
    return make_client(dba_user, write=False)


@pytest.fixture
def viewer_api(viewer_user):
    return make_client(viewer_user)


@pytest.fixture
def owner_api(owner_user):
    return make_client(owner_user)


@pytest.fixture
def anon_api(db):
    return ApiClient()


@pytest.fixture
def pg_cluster():
    """A real PostgreSQL primary with one streaming replica on loopback ports."""
    from tests.support.pg import PgCluster, pg_available
    from tests.support.services import require_service

    require_service(pg_available(), "PostgreSQL server binaries (initdb) are not installed")
    cluster = PgCluster(replicas=1)
    try:
        cluster.wait_replicas_streaming()
        yield cluster
    finally:
        cluster.destroy()
