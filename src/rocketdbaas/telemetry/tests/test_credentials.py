"""Collector credentials: write-only secrets, never shown by the API or the admin, never logged."""

import logging

import pytest
from django.test import Client

from rocketdbaas.activities.models import Activity
from rocketdbaas.inventory.models import Server
from rocketdbaas.telemetry import credentials
from rocketdbaas.telemetry.models import DbCredential, SecretSource
from rocketdbaas.telemetry.tests.conftest import make_cluster

SECRET = "s3cr3t-Pa55word-never-shown"


@pytest.fixture
def orders(db):
    return make_cluster("orders", members=[("orders-db1", 5432)])


def _no_secret(response, cred: DbCredential | None = None):
    text = response.content.decode()
    assert SECRET not in text
    if cred is not None and cred.encrypted_password:
        assert cred.encrypted_password not in text


def test_create_list_change_and_remove(dba_api, orders, caplog):
    caplog.set_level(logging.DEBUG)
    r = dba_api.post("/api/postgresql/credentials", json={"username": "collector", "password": SECRET})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["hasPassword"] is True and body["passwordSource"] == "stored"
    assert body["cluster"] is None and "password" not in body
    cred = DbCredential.objects.get()
    _no_secret(r, cred)
    assert credentials.decrypt(cred.encrypted_password) == SECRET

    r = dba_api.post(
        "/api/postgresql/credentials",
        json={"cluster": "orders", "username": "orders_ro", "passwordEnv": "RDB_SECRET_ORDERS"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["passwordRef"] == "RDB_SECRET_ORDERS"

    listed = dba_api.get("/api/postgresql/credentials")
    assert listed.json()["count"] == 2
    _no_secret(listed, cred)
    one = dba_api.get(f"/api/postgresql/credentials/{cred.pk}")
    _no_secret(one, cred)

    r = dba_api.patch(f"/api/postgresql/credentials/{cred.pk}", json={"password": ""})
    assert r.status_code == 200
    assert r.json()["hasPassword"] is False
    r = dba_api.patch(f"/api/postgresql/credentials/{cred.pk}", json={"password": SECRET + "2"})
    assert r.json()["hasPassword"] is True
    _no_secret(r)

    assert dba_api.delete(f"/api/postgresql/credentials/{cred.pk}").status_code == 204
    assert DbCredential.objects.count() == 1

    # Every change is audited, without the secret.
    activities = Activity.objects.filter(summary__startswith="Collector credential")
    assert activities.count() == 5
    for a in activities:
        assert SECRET not in a.summary + str(a.details)
    assert SECRET not in caplog.text


def test_the_store_resolves_cluster_then_type(orders, monkeypatch, settings):
    server = Server.objects.get(name="orders-db1")
    assert credentials.credentials_for(server) == ("", "")
    DbCredential.objects.create(
        dbms_type="postgresql",
        username="fleet",
        secret_source=SecretSource.STORED,
        encrypted_password=credentials.encrypt("fleet-pw"),
    )
    assert credentials.credentials_for(server) == ("fleet", "fleet-pw")
    monkeypatch.setenv("RDB_SECRET_ORDERS", "orders-pw")
    DbCredential.objects.create(
        dbms_type="postgresql",
        cluster=orders,
        username="own",
        secret_source="env",
        secret_ref="RDB_SECRET_ORDERS",
    )
    assert credentials.credentials_for(server) == ("own", "orders-pw")
    assert credentials.CredentialStore().credentials_for(server) == ("own", "orders-pw")


def test_secret_file_and_key_rotation(orders, tmp_path, settings):
    settings.CREDENTIALS_FILE_DIRS = [str(tmp_path)]
    secret_file = tmp_path / "orders.pw"
    secret_file.write_text("from-a-file\n")
    cred = DbCredential.objects.create(
        dbms_type="postgresql", cluster=orders, secret_source="file", secret_ref=str(secret_file)
    )
    assert credentials.resolve_password(cred) == "from-a-file"

    old_key, new_key = credentials.Fernet.generate_key().decode(), credentials.Fernet.generate_key().decode()
    settings.CREDENTIALS_KEY = old_key
    token = credentials.encrypt(SECRET)
    settings.CREDENTIALS_KEY = f"{new_key},{old_key}"
    assert credentials.decrypt(token) == SECRET
    settings.CREDENTIALS_KEY = new_key
    with pytest.raises(credentials.SecretUnavailable):
        credentials.decrypt(token)


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"passwordEnv": "SECRET_KEY"}, 422, "passwordEnv"),
        ({"passwordEnv": "not a name"}, 422, "passwordEnv"),
        ({"passwordFile": "/etc/shadow"}, 422, "passwordFile"),
        ({"passwordFile": "relative/path"}, 422, "passwordFile"),
        ({"password": "x", "passwordEnv": "RDB_SECRET_X"}, 422, "password"),
        ({"cluster": "nope"}, 422, "cluster"),
        ({"username": "u" * 200}, 422, "username"),
    ],
)
def test_bad_credentials_change_nothing(dba_api, orders, payload, status, field):
    r = dba_api.post("/api/postgresql/credentials", json=payload)
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in r.json()["errors"]}
    assert DbCredential.objects.count() == 0
    assert Activity.objects.count() == 0


def test_one_credential_per_scope(dba_api, orders):
    assert dba_api.post("/api/postgresql/credentials", json={"username": "a"}).status_code == 201
    r = dba_api.post("/api/postgresql/credentials", json={"username": "b"})
    assert r.status_code == 409
    assert dba_api.post("/api/postgresql/credentials", json={"cluster": "orders"}).status_code == 201
    assert dba_api.post("/api/postgresql/credentials", json={"cluster": "orders"}).status_code == 409
    # A MongoDB default is its own scope; a PostgreSQL cluster cannot take a MongoDB credential.
    assert dba_api.post("/api/mongodb/credentials", json={"username": "m"}).status_code == 201
    assert dba_api.post("/api/mongodb/credentials", json={"cluster": "orders"}).status_code == 422
    assert DbCredential.objects.count() == 3


def test_unknown_credential_is_404(dba_api, orders):
    cred = DbCredential.objects.create(dbms_type="postgresql", username="u")
    assert dba_api.get("/api/postgresql/credentials/999999").status_code == 404
    assert dba_api.get(f"/api/mongodb/credentials/{cred.pk}").status_code == 404
    assert dba_api.patch("/api/postgresql/credentials/999999", json={"username": "x"}).status_code == 404
    assert dba_api.delete("/api/postgresql/credentials/999999").status_code == 404
    assert dba_api.get(f"/api/postgresql/credentials/{2**64}").status_code == 422


@pytest.mark.parametrize(
    ("client", "status"), [("viewer_api", 403), ("owner_api", 403), ("readonly_api", 403), ("anon_api", 401)]
)
def test_credentials_need_a_dba(request, orders, client, status):
    api = request.getfixturevalue(client)
    cred = DbCredential.objects.create(dbms_type="postgresql", username="u")
    if client != "readonly_api":  # a read-only dba token may read
        assert api.get("/api/postgresql/credentials").status_code == status
    assert api.post("/api/postgresql/credentials", json={"cluster": "orders"}).status_code == status
    assert api.patch(f"/api/postgresql/credentials/{cred.pk}", json={"username": "x"}).status_code == status
    assert api.delete(f"/api/postgresql/credentials/{cred.pk}").status_code == status
    assert list(DbCredential.objects.values_list("username", flat=True)) == ["u"]


def test_admin_pages_never_show_the_password(admin_user, orders):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    browser = Client()
    browser.force_login(admin_user)
    r = browser.post(
        "/admin/telemetry/dbcredential/add/",
        {"dbms_type": "postgresql", "cluster": orders.pk, "username": "collector", "password": SECRET},
    )
    assert r.status_code == 302 and r["Location"] == "/admin/telemetry/dbcredential/", r.content.decode()[
        :2000
    ]
    cred = DbCredential.objects.get()
    assert cred.secret_source == "stored" and credentials.decrypt(cred.encrypted_password) == SECRET

    for url in (
        "/admin/telemetry/dbcredential/",
        f"/admin/telemetry/dbcredential/{cred.pk}/change/",
        "/admin/telemetry/dbcredential/add/",
        f"/admin/telemetry/dbcredential/{cred.pk}/history/",
    ):
        page = browser.get(url)
        assert page.status_code == 200, url
        _no_secret(page, cred)

    # Saving the form without typing a password keeps the stored one.
    r = browser.post(f"/admin/telemetry/dbcredential/{cred.pk}/change/", {"username": "collector2"})
    assert r.status_code == 302, r.content.decode()[:2000]
    cred.refresh_from_db()
    assert cred.username == "collector2" and credentials.decrypt(cred.encrypted_password) == SECRET
    r = browser.post(
        f"/admin/telemetry/dbcredential/{cred.pk}/change/", {"username": "collector2", "password_env": "HOME"}
    )
    assert r.status_code == 200 and "must be named" in r.content.decode()
