"""API authentication: bearer tokens for automation, the session (with CSRF) for the web UI."""

from datetime import timedelta

from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from rocketdbaas.accounts.models import ApiToken, hash_token
from rocketdbaas.accounts.roles import SAFE_METHODS, can_write
from rocketdbaas.core.errors import Forbidden

# last_used_at is informational; updating it on every call would make every read a write.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def _check_write(request) -> None:
    if request.method not in SAFE_METHODS and not can_write(request):
        raise Forbidden("This token or role is read-only.")


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        api_token = (
            ApiToken.objects.usable().select_related("user").filter(key_hash=hash_token(token)).first()
        )
        if api_token is None or not api_token.user.is_active:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_GRANULARITY:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = api_token.user
        request.api_token = api_token
        _check_write(request)
        return api_token.user


class WebSessionAuth(SessionAuth):
    """The logged-in browser session; ninja enforces CSRF on it."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user:
            _check_write(request)
        return user
