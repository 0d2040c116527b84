import pytest
from django.contrib import admin
from django.urls import reverse

from rocketdbaas.accounts.models import ApiToken, User


def superuser() -> User:
    return User.objects.create_superuser("root", email="", password="x")


@pytest.mark.django_db
def test_every_model_admin_page_renders(client, dba_user):
    """The back office: each registered model's list and add pages load for an admin."""
    client.force_login(superuser())
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert response.status_code == 200, f"{opts.label} changelist: {response.status_code}"
        if model_admin.has_add_permission(response.wsgi_request):
            response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
            assert response.status_code == 200, f"{opts.label} add: {response.status_code}"


@pytest.mark.django_db
def test_token_admin_never_shows_the_raw_token(client, dba_user):
    client.force_login(superuser())
    token, raw = ApiToken.issue(dba_user, write=True, name="deploy")
    page = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content.decode()
    assert token.key_hash in page and raw not in page
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403
    client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
