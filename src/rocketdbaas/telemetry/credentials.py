"""The credential store: which user and password reach a server, and how secrets are kept.

Stored passwords are Fernet tokens. The key is settings.CREDENTIALS_KEY (one Fernet key, or
several separated by commas: the first encrypts, all decrypt, so keys can be rotated); without
it a key is derived from SECRET_KEY. A password can instead be referenced: an environment
variable (its name must start with CREDENTIALS_ENV_PREFIX) or a file inside one of
CREDENTIALS_FILE_DIRS. The allow-lists stop a credential editor from pointing the collector at
the application's own secrets (SECRET_KEY, the database URL) and sending them to a server.
"""

import base64
import hashlib
import logging
import os
import re
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from rocketdbaas.core.config import config
from rocketdbaas.telemetry.models import DbCredential, SecretSource

logger = logging.getLogger(__name__)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretUnavailable(Exception):
    """A referenced secret cannot be read; the message names the reference, never a value."""


@cache
def _fernet(credentials_key: str, secret_key: str) -> MultiFernet:
    if credentials_key:
        keys = [Fernet(k.strip().encode()) for k in credentials_key.split(",") if k.strip()]
    else:
        derived = hashlib.sha256(b"rocketdbaas-credentials\0" + secret_key.encode()).digest()
        keys = [Fernet(base64.urlsafe_b64encode(derived))]
    return MultiFernet(keys)


def fernet() -> MultiFernet:
    return _fernet(config.CREDENTIALS_KEY, config.SECRET_KEY)


def encrypt(password: str) -> str:
    return fernet().encrypt(password.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable("the stored password cannot be decrypted with the current key") from None


def env_prefix() -> str:
    return config.CREDENTIALS_ENV_PREFIX


def file_dirs() -> list[Path]:
    return [Path(d).resolve() for d in config.CREDENTIALS_FILE_DIRS]


def check_env_ref(name: str) -> str | None:
    """Why this environment variable name cannot hold a password, or None if it can."""
    if not _ENV_NAME.match(name):
        return "Not a valid environment variable name."
    if not name.startswith(env_prefix()):
        return f"Password variables must be named {env_prefix()}…"
    return None


def check_file_ref(path: str) -> str | None:
    """Why this path cannot hold a password, or None if it can."""
    p = Path(path)
    if not p.is_absolute():
        return "Give an absolute path."
    resolved = p.resolve()
    dirs = file_dirs()
    if not any(resolved.is_relative_to(d) for d in dirs):
        return "Secret files must be inside one of: " + ", ".join(str(d) for d in dirs)
    return None


def resolve_password(credential: DbCredential) -> str:
    source = credential.secret_source
    if source == SecretSource.STORED:
        return decrypt(credential.encrypted_password) if credential.encrypted_password else ""
    if source == SecretSource.ENV:
        if check_env_ref(credential.secret_ref):
            raise SecretUnavailable(f"environment variable {credential.secret_ref!r} is not allowed")
        if credential.secret_ref not in os.environ:
            raise SecretUnavailable(f"environment variable {credential.secret_ref!r} is not set")
        return os.environ[credential.secret_ref]
    if source == SecretSource.FILE:
        if check_file_ref(credential.secret_ref):
            raise SecretUnavailable(f"secret file {credential.secret_ref!r} is not allowed")
        try:
            return Path(credential.secret_ref).read_text().rstrip("\r\n")
        except OSError as exc:
            raise SecretUnavailable(f"secret file {credential.secret_ref!r}: {exc.strerror}") from None
    return ""


class CredentialStore:
    """Every credential of the given types, loaded once, to resolve many servers without queries."""

    def __init__(self, dbms_types: list[str] | None = None):
        qs = DbCredential.objects.all()
        if dbms_types:
            qs = qs.filter(dbms_type__in=dbms_types)
        self.by_cluster: dict[int, DbCredential] = {}
        self.by_type: dict[str, DbCredential] = {}
        for cred in qs:
            if cred.cluster_id:
                self.by_cluster[cred.cluster_id] = cred
            else:
                self.by_type[cred.dbms_type] = cred

    def credential_for(self, server) -> DbCredential | None:
        if server.cluster_id and server.cluster_id in self.by_cluster:
            return self.by_cluster[server.cluster_id]
        return self.by_type.get(server.dbms_type)

    def credentials_for(self, server) -> tuple[str, str]:
        """(user, password); ("", "") when nothing is configured. Raises SecretUnavailable."""
        cred = self.credential_for(server)
        if cred is None:
            return "", ""
        return cred.username, resolve_password(cred)


def credentials_for(server) -> tuple[str, str]:
    """(user, password) for one server: its cluster's credential, else its dbmsType's.

    An unreadable referenced secret falls back to no password (the server then answers
    'authentication failed', which is what the operator needs to see) and is logged by name.
    """
    qs = DbCredential.objects.filter(dbms_type=server.dbms_type, cluster__isnull=True)
    if server.cluster_id:
        qs = DbCredential.objects.filter(cluster_id=server.cluster_id) | qs
    creds = sorted(qs, key=lambda c: c.cluster_id is None)
    if not creds:
        return "", ""
    try:
        return creds[0].username, resolve_password(creds[0])
    except SecretUnavailable as exc:
        logger.warning("Credential for %s unusable: %s", server.name, exc)
        return creds[0].username, ""
