"""API authentication: bearer tokens for automation, the session (with CSRF) for the web UI.

The order is the README's: a request that carries an Authorization header is judged by its token
alone, and a missing, malformed, unknown, expired or revoked one is a 401 saying which. Only a
request without that header but with a logged-in browser session goes through the session and
its CSRF check; anything else is a 401 for missing credentials.
"""

from datetime import timedelta

from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from rocketdbaas.accounts.models import ApiToken, hash_token
from rocketdbaas.accounts.roles import SAFE_METHODS, can_write
from rocketdbaas.core.errors import Forbidden, Unauthenticated

# last_used_at is informational; updating it on every call would make every read a write.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


def _check_write(request) -> None:
    if request.method not in SAFE_METHODS and not can_write(request):
        raise Forbidden("This token or role is read-only.")


def _refusal(key_hash: str) -> str:
    """Why a token that is not usable was refused (usable() is the rule; this only names it)."""
    known = ApiToken.objects.select_related("user").filter(key_hash=key_hash).first()
    if known is None:
        return "This API token is not known."
    if known.revoked_at is not None:
        return "This API token has been revoked."
    if known.expires_at is not None and known.expires_at <= timezone.now():
        return "This API token has expired."
    return "This API token's user is inactive."


class BearerTokenAuth(HttpBearer):
    def __call__(self, request):
        header = request.headers.get(self.header)
        if header is None:
            return None  # not an automation client: the session may apply
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.openapi_scheme or not token.strip():
            raise Unauthenticated(
                "The Authorization header is malformed; send 'Authorization: Bearer <token>'."
            )
        return self.authenticate(request, token.strip())

    def authenticate(self, request, token):
        key_hash = hash_token(token)
        api_token = ApiToken.objects.usable().select_related("user").filter(key_hash=key_hash).first()
        if api_token is None or not api_token.user.is_active:
            raise Unauthenticated(_refusal(key_hash))
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_GRANULARITY:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        request.user = api_token.user
        request.api_token = api_token
        _check_write(request)
        return api_token.user


class WebSessionAuth(SessionAuth):
    """The logged-in browser session; ninja enforces CSRF on it."""

    def _get_key(self, request):
        # Without a logged-in session there is nothing for CSRF to protect: the answer is a
        # 401 for missing credentials, not a CSRF failure.
        if "Authorization" in request.headers or not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        if key is None:
            return None
        user = super().authenticate(request, key)
        if user:
            _check_write(request)
        return user
