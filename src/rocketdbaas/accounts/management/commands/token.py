"""`rocketdbaas token create|list|revoke`: API tokens from the command line."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from rocketdbaas.accounts.models import ApiToken, Role, User


class Command(BaseCommand):
    help = (
        "Create, list and revoke API tokens. `create` prints only the new token, so scripts can capture it."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a token (creating the user if needed).")
        create.add_argument("--user", required=True, help="Username; created if it does not exist.")
        create.add_argument(
            "--role", choices=Role.values, help="Role to give the user (new users default to viewer)."
        )
        create.add_argument("--write", action="store_true", help="Allow writes (default: read-only).")
        create.add_argument("--expires-days", type=int, help="Expire after N days (default: never).")
        create.add_argument("--name", default="", help="A label to tell tokens apart.")
        listing = sub.add_parser("list", help="List tokens (never their values).")
        listing.add_argument("--user", help="Only this user's tokens.")
        revoke = sub.add_parser("revoke", help="Revoke a token by its id.")
        revoke.add_argument("token_id", type=int)

    def handle(self, *args, action: str, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, *, user: str, role: str | None, write: bool, expires_days: int | None, name: str, **_):
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        with transaction.atomic():
            account, created = User.objects.get_or_create(
                username=user, defaults={"role": role or Role.VIEWER, "is_active": True}
            )
            if created:
                account.set_unusable_password()
                account.save()
            elif role and account.role != role:
                account.role = role
                account.save()
            expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
            raw = ApiToken.issue(account, write=write, name=name, expires_at=expires_at)[1]
        # Only the token on stdout: `TOKEN=$(rocketdbaas token create ...)` must just work.
        self.stdout.write(raw)
        if created:
            self.stderr.write(f"Created user {user!r} with role {account.role}.")

    def _list(self, *, user: str | None, **_):
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
        if user:
            tokens = tokens.filter(user__username=user)
        self.stdout.write(
            f"{'id':>5}  {'user':<20} {'role':<7} {'hint':<12} {'access':<10} {'expires':<17} {'state':<8} name"
        )
        now = timezone.now()
        for t in tokens:
            if t.revoked_at:
                state = "revoked"
            elif t.expires_at and t.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            expires = t.expires_at.strftime("%Y-%m-%d %H:%M") if t.expires_at else "never"
            access = "write" if t.write else "read-only"
            self.stdout.write(
                f"{t.pk:>5}  {t.user.username:<20} {t.user.role:<7} {t.hint + '…':<12} {access:<10} {expires:<17} {state:<8} {t.name}"
            )

    def _revoke(self, *, token_id: int, **_):
        updated = ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not updated:
            raise CommandError(f"No active token with id {token_id}.")
        self.stdout.write(f"Revoked token {token_id}.")
