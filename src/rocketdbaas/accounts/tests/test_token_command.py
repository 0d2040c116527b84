from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from tests.support.fixtures import ApiClient

from rocketdbaas.accounts.models import ApiToken, User


def call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_token_command_prints_only_the_token():
    out = call(
        "token",
        "create",
        "--user",
        "ci-bot",
        "--role",
        "dba",
        "--write",
        "--expires-days",
        "7",
        "--name",
        "ci",
    )
    raw = out.strip()
    assert "\n" not in raw and raw.startswith("rdb_")
    token = ApiToken.objects.get()
    assert token.user.username == "ci-bot" and token.user.role == "dba" and token.write and token.name == "ci"
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)
    assert not token.user.has_usable_password()

    read_only = call("token", "create", "--user", "ci-bot").strip()
    assert not ApiToken.objects.get(hint=read_only[:10]).write
    assert User.objects.get(username="ci-bot").role == "dba"  # unchanged without --role

    listing = call("token", "list")
    assert raw not in listing and read_only not in listing and "ci-bot" in listing
    assert token.hint in listing


@pytest.mark.django_db
def test_revoked_token_is_refused():
    raw = call("token", "create", "--user", "someone").strip()
    assert ApiClient(raw).get("/api/me").status_code == 200
    call("token", "revoke", str(ApiToken.objects.get().pk))
    assert ApiClient(raw).get("/api/me").status_code == 401
    with pytest.raises(CommandError):
        call("token", "revoke", "999999")
    with pytest.raises(CommandError):
        call("token", "create", "--user", "x", "--expires-days", "0")
