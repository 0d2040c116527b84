"""Every product setting, declared once: its environment variable, type, default and meaning.

settings.py takes each value from the environment through these declarations (`from_env`).
Code reads a setting as an attribute of `config` (`config.PATCH_LEASE_SECONDS`), which looks at
django.conf.settings on every access, so override_settings and a settings module that extends
rocketdbaas.settings take effect without a restart of anything that imported the value.

The settings tables in README.md and docs/*.md are rendered from these declarations
(`render_table`); a test fails when a table and the declarations differ.
"""

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import environ

T = TypeVar("T")

# A default computed from the settings declared before it, e.g. paths under VAR_DIR.
Derived = Callable[[Mapping[str, Any]], T]

README = "README.md"
PATCHING = "docs/patching.md"
TELEMETRY = "docs/telemetry.md"
CONTACTS = "docs/contacts.md"
BACKUPS = "docs/backups.md"
REPORTS = "docs/reports.md"


class Setting(Generic[T]):
    """One setting. As a class attribute of Config it is a descriptor: `config.NAME` is its value now."""

    name: str

    def __init__(
        self,
        cast: type[T],
        default: T | Derived[T],
        doc: str,
        *,
        pages: tuple[str, ...] = (README,),
        env: str = "",
        shown_default: str = "",
    ) -> None:
        self.cast = cast
        self.default = default
        self.doc = doc
        self.pages = pages
        self.env = env
        self.shown_default = shown_default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.env = self.env or name

    @overload
    def __get__(self, obj: None, owner: type) -> "Setting[T]": ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object, owner: type) -> "T | Setting[T]":
        if obj is None:
            return self
        from django.conf import settings

        try:
            return getattr(settings, self.name)
        except AttributeError:
            return self.default_value(_Current())

    def default_value(self, earlier: Mapping[str, Any]) -> T:
        if callable(self.default):
            return self.default(earlier)
        return self.default

    def from_env(self, earlier: Mapping[str, Any], environ_: Mapping[str, str]) -> T:
        reader = environ.Env()
        reader.ENVIRON = environ_
        return reader.get_value(self.env, cast=self.cast, default=self.default_value(earlier))

    def shown(self) -> str:
        if self.shown_default:
            return self.shown_default
        value = self.default
        if isinstance(value, list):
            text = ",".join(value)
        elif isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, float):
            text = format(value, "g")
        else:
            text = str(value)
        return f"`{text}`" if text else "empty"


class _Current(Mapping[str, Any]):
    """The settings in force, for a derived default asked for at call time."""

    def __getitem__(self, name: str) -> Any:
        return getattr(config, name)

    def __iter__(self):
        return (setting.name for setting in declarations())

    def __len__(self) -> int:
        return len(declarations())


def _under_var_dir(*parts: str) -> Derived[str]:
    return lambda earlier: str(Path(earlier["VAR_DIR"]).joinpath(*parts))


class Config:
    # -- the server and its database
    VAR_DIR = Setting(
        Path,
        lambda earlier: Path.cwd() / "var",
        "embedded database, secret key, static cache",
        env="ROCKETDBAAS_VAR_DIR",
        shown_default="`./var`",
    )
    DATABASE_URL = Setting(
        str,
        lambda earlier: f"sqlite:///{Path(earlier['VAR_DIR']) / 'rocketdbaas.sqlite3'}",
        "the database, e.g. `postgresql://user:pass@host:5432/rocketdbaas`",
        shown_default="`sqlite:///./var/rocketdbaas.sqlite3`",
    )
    SQLITE_TEST_NAME = Setting(
        str,
        lambda earlier: str(Path(tempfile.gettempdir()) / f"rocketdbaas-test-{os.getpid()}.sqlite3"),
        "the database file the test suite creates on SQLite",
        shown_default="one per process in the temp dir",
    )
    # A new PostgreSQL connection per request costs a TCP and auth round trip or more; kept
    # connections are checked before reuse, so a restarted database costs one failed check.
    CONN_MAX_AGE = Setting(
        int, 600, "seconds a PostgreSQL connection is kept for further requests (0: one per request)"
    )
    CONN_HEALTH_CHECKS = Setting(
        bool, True, "check a kept PostgreSQL connection before reusing it after a request"
    )
    SECRET_KEY = Setting(
        str,
        "",
        "Django's signing key; set it in production",
        shown_default="random, kept in `var/secret_key`",
    )
    DEBUG = Setting(bool, False, "Django debug mode (never in production)")
    ALLOWED_HOSTS = Setting(list, ["127.0.0.1", "localhost", "[::1]"], "host names the server answers to")
    CSRF_TRUSTED_ORIGINS = Setting(list, [], "e.g. `https://rocketdbaas.example.com` behind TLS")
    BASE_URL = Setting(str, "http://127.0.0.1:8000", "start of links in emails", pages=(README, CONTACTS))
    BEHIND_TLS_PROXY = Setting(
        bool,
        False,
        "the load balancer terminates TLS and sets `X-Forwarded-Proto` (it must overwrite any the "
        "client sent)",
    )
    SECURE_COOKIES = Setting(bool, False, "secure session/CSRF cookies (set behind HTTPS)")
    LOG_LEVEL = Setting(str, "INFO", "log level (logs carry the request id)")
    # Registering a fleet (POST clustersServers) sends thousands of servers in one body; Django's
    # 2.5 MB is too little.
    DATA_UPLOAD_MAX_MEMORY_SIZE = Setting(
        int, 32 * 1024 * 1024, "largest request body, 32 MiB (a bigger one is a 413)"
    )
    WEB_HOST = Setting(str, "127.0.0.1", "address `rocketdbaas serve` listens on", env="HOST")
    WEB_PORT = Setting(int, 8000, "port of `rocketdbaas serve`", env="PORT")
    WEB_WORKERS = Setting(int, 2, "gunicorn worker processes of `rocketdbaas serve`")
    WEB_THREADS = Setting(int, 8, "threads per gunicorn worker")
    WEB_ACCESS_LOG = Setting(
        str,
        "-",
        "gunicorn's access log: `-` standard output, a file path, or empty for none (e.g. when the "
        "load balancer logs requests)",
    )
    TASKS_BACKEND = Setting(
        str, "db", "`db` (django-tasks-db, SQLite or PostgreSQL), `rq` (Redis), `immediate`"
    )
    REDIS_URL = Setting(str, "redis://127.0.0.1:6379/0", "Redis for `TASKS_BACKEND=rq`")

    # -- email (contacts)
    EMAIL_URL = Setting(
        str,
        "consolemail://",
        "where mail goes: `smtp://host:25`, `smtp+tls://user:pass@host:587`, `smtp+ssl://…:465`; "
        "the default prints each email to the console (and the log records it as sent)",
        pages=(README, CONTACTS),
    )
    DEFAULT_FROM_EMAIL = Setting(
        str,
        "rocketdbaas@localhost",
        "sender, and the domain of each email's Message-ID",
        pages=(README, CONTACTS),
    )
    EMAIL_TIMEOUT = Setting(float, 30.0, "SMTP connection timeout, seconds", pages=(CONTACTS,))
    CONTACTS_EMAIL_RETRY_BASE_SECONDS = Setting(
        float, 30.0, "first retry delay; doubles each attempt", pages=(CONTACTS,)
    )
    CONTACTS_EMAIL_RETRY_MAX_SECONDS = Setting(
        float,
        3600.0,
        "longest delay between attempts (retries go on until delivered)",
        pages=(CONTACTS,),
    )
    CONTACTS_EMAIL_CLAIM_LEASE_SECONDS = Setting(
        int, 600, "how long a claim of a dead worker blocks its emails", pages=(CONTACTS,)
    )
    CONTACTS_EMAIL_SWEEP_SECONDS = Setting(
        int, 60, "how often the worker's scheduler runs the delivery sweep", pages=(CONTACTS,)
    )

    # -- inventory
    POOL_LEASE_SECONDS = Setting(int, 3600, "how long pull-and-lock reservations hold servers")
    POOL_LEASE_SWEEP_SECONDS = Setting(int, 60, "how often the worker frees expired reservations")

    # -- telemetry and the credentials of managed servers
    CREDENTIALS_KEY = Setting(
        str,
        "",
        "Fernet key(s) encrypting stored credentials of managed servers (comma-separated, newest "
        "first); empty: derived from `SECRET_KEY`",
        pages=(README, TELEMETRY),
    )
    CREDENTIALS_ENV_PREFIX = Setting(
        str, "RDB_SECRET_", "prefix of the variables a collector password may come from", pages=(TELEMETRY,)
    )
    CREDENTIALS_FILE_DIRS = Setting(
        list,
        lambda earlier: ["/run/secrets", str(Path(earlier["VAR_DIR"]) / "secrets")],
        "directories a collector password file may be in",
        pages=(TELEMETRY,),
        shown_default="`/run/secrets,var/secrets`",
    )
    DB_CONNECT_TIMEOUT_SECONDS = Setting(
        float, 5.0, "connect timeout (also used by patching's health checks)", pages=(TELEMETRY,)
    )
    COLLECT_INTERVAL_SECONDS = Setting(int, 3600, "periodic collection", pages=(TELEMETRY,))
    COLLECT_WORKERS = Setting(int, 16, "servers probed at once", pages=(TELEMETRY,))
    TELEMETRY_RAW_RETENTION_DAYS = Setting(
        int, 30, "raw samples are kept this long, then daily rollups", pages=(TELEMETRY,)
    )
    TELEMETRY_RUN_RETENTION_DAYS = Setting(int, 90, "collection runs and results", pages=(TELEMETRY,))
    TELEMETRY_RETENTION_INTERVAL_SECONDS = Setting(
        int, 6 * 3600, "how often retention is applied", pages=(TELEMETRY,)
    )

    # -- rolling patching
    PATCH_SSH_USER = Setting(str, "root", "ssh/ansible login when the recipe has none", pages=(PATCHING,))
    PATCH_SSH_KEY_PATH = Setting(
        str, "", "private key file", pages=(PATCHING,), shown_default="(worker's `~/.ssh` keys)"
    )
    PATCH_SSH_KNOWN_HOSTS = Setting(
        str, "", "extra trusted host keys file (OpenSSH format)", pages=(PATCHING,)
    )
    PATCH_SSH_PORT = Setting(int, 22, "default `{ssh_port}`", pages=(PATCHING,))
    PATCH_SSH_CONNECT_TIMEOUT = Setting(
        float, 10.0, "ssh connect timeout, seconds (at most the step's timeout)", pages=(PATCHING,)
    )
    PATCH_ANSIBLE_PROJECT_DIR = Setting(
        str,
        "",
        "relative playbook paths start here",
        pages=(PATCHING,),
        shown_default="working directory",
    )
    PATCH_ANSIBLE_DATA_DIR = Setting(
        str,
        _under_var_dir("ansible"),
        "ansible-runner's private data dirs",
        pages=(PATCHING,),
        shown_default="`var/ansible`",
    )
    PATCH_LEASE_SECONDS = Setting(
        int, 60, "a run whose worker missed this long is taken over", pages=(PATCHING,)
    )
    PATCH_RECONCILE_SECONDS = Setting(int, 30, "how often stale runs are looked for", pages=(PATCHING,))
    PATCH_MAX_RUN_ATTEMPTS = Setting(
        int, 10, "takeovers of one run before it is marked failed", pages=(PATCHING,)
    )
    PATCH_MAX_PARALLEL_CLUSTERS = Setting(
        int, 8, "clusters of a batch patched at once (per run)", pages=(PATCHING,)
    )
    PATCH_POLL_SECONDS = Setting(
        float, 1.0, "how often a run checks for pause/cancel and finished clusters", pages=(PATCHING,)
    )
    PATCH_VERIFY_POLL_SECONDS = Setting(
        float, 2.0, "wait between health checks while verifying a server", pages=(PATCHING,)
    )
    PATCH_VERSION_TIMEOUT = Setting(
        int, 60, "seconds the version command may take (at most the recipe's timeout)", pages=(PATCHING,)
    )
    PATCH_OUTPUT_HEAD_CHARS = Setting(
        int, 64 * 1024, "output kept per step: the first characters", pages=(PATCHING,)
    )
    PATCH_OUTPUT_TAIL_CHARS = Setting(
        int, 64 * 1024, "output kept per step: the last characters", pages=(PATCHING,)
    )
    PATCH_OUTPUT_FLUSH_SECONDS = Setting(
        float, 0.5, "how often a running step's output is saved", pages=(PATCHING,)
    )

    # -- backups and reports
    BACKUP_ROLLOFF_INTERVAL_HOURS = Setting(
        int, 24, "how often the worker applies roll-off to every type", pages=(BACKUPS,)
    )
    REPORTS_PATCH_MAX_AGE_DAYS = Setting(int, 90, "the unpatched report's default `days`", pages=(REPORTS,))


config = Config()


def declarations() -> list[Setting[Any]]:
    return [value for value in vars(Config).values() if isinstance(value, Setting)]


def from_env(environ_: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every declared setting's value from the environment, or its default, in declaration order."""
    environ_ = os.environ if environ_ is None else environ_
    values: dict[str, Any] = {}
    for setting in declarations():
        values[setting.name] = setting.from_env(values, environ_)
    return values


TABLE_BEGIN = "<!-- settings table: generated from src/rocketdbaas/core/config.py -->"
TABLE_END = "<!-- end of settings table -->"


def render_table(page: str) -> str:
    """The settings table of one documentation page, between its markers."""
    rows = [
        f"| `{setting.env}` | {setting.shown()} | {setting.doc} |"
        for setting in declarations()
        if page in setting.pages
    ]
    return "\n".join([TABLE_BEGIN, "| variable | default | meaning |", "|---|---|---|", *rows, TABLE_END])
