import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "rdb_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    DBA = "dba", "DBA"
    VIEWER = "viewer", "Viewer"
    OWNER = "owner", "Application owner"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    def save(self, *args, **kwargs):
        # Django superusers are admins here too, so the two notions never disagree.
        if self.is_superuser:
            self.role = Role.ADMIN
        super().save(*args, **kwargs)


def hash_token(raw: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough; no salt or stretching needed.
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 is stored, the raw value is shown once at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="First characters, to tell tokens apart")
    write = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user.username}: {self.hint}… ({'write' if self.write else 'read-only'})"

    @classmethod
    def issue(
        cls, user: User, *, write: bool = False, name: str = "", expires_at=None
    ) -> tuple["ApiToken", str]:
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, key_hash=hash_token(raw), hint=raw[:10], write=write, expires_at=expires_at
        )
        return token, raw
