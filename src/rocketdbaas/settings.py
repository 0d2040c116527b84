"""Settings come only from environment variables; the defaults suit the embedded mode."""

import os
import secrets
import tempfile
from pathlib import Path

import environ

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(env.str("ROCKETDBAAS_VAR_DIR", default=str(Path.cwd() / "var")))


def _embedded_secret_key() -> str:
    """A random key kept under var/, so sessions survive restarts of the embedded mode."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
BASE_URL = env.str("BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "rocketdbaas.core",
    "rocketdbaas.accounts",
    "rocketdbaas.inventory",
    "rocketdbaas.activities",
    "rocketdbaas.patching",
    "rocketdbaas.contacts",
    "rocketdbaas.backups",
    "rocketdbaas.telemetry",
    "rocketdbaas.intake",
    "rocketdbaas.reports",
]

MIDDLEWARE = [
    "rocketdbaas.core.middleware.RequestIdMiddleware",
    "rocketdbaas.core.middleware.ApiSlashMiddleware",
    "rocketdbaas.core.middleware.ApiMethodNotAllowedMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "rocketdbaas.urls"
APPEND_SLASH = False
WSGI_APPLICATION = "rocketdbaas.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PROJECT_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rocketdbaas.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'rocketdbaas.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
    # failing with "database is locked" half-way through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so tests with threads and worker processes share it.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str(
            "SQLITE_TEST_NAME",
            default=str(Path(tempfile.gettempdir()) / f"rocketdbaas-test-{os.getpid()}.sqlite3"),
        )
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [PROJECT_DIR / "static"]
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="rocketdbaas@localhost")

# Jobs: the database backend works everywhere; "rq" scales out on Redis.
TASKS_BACKEND = env.str("TASKS_BACKEND", default="db")
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 6 * 3600}}
TASKS = {
    "default": {
        "BACKEND": {
            "db": "django_tasks_db.DatabaseBackend",
            "rq": "django_tasks_rq.RQBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
            "dummy": "django_tasks.backends.dummy.DummyBackend",
        }[TASKS_BACKEND],
    }
}

# How long a pull-and-lock reservation holds servers before they return to Free.
POOL_LEASE_SECONDS = env.int("POOL_LEASE_SECONDS", default=3600)
# How often the worker returns servers whose lease ran out to Free (pulls also do it lazily).
POOL_LEASE_SWEEP_SECONDS = env.int("POOL_LEASE_SWEEP_SECONDS", default=60)
# Registering a fleet (POST clustersServers) sends thousands of servers in one body; 2.5 MB is too little.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=32 * 1024 * 1024)
# Credentials for reaching managed servers are encrypted with this key (Fernet).
CREDENTIALS_KEY = env.str("CREDENTIALS_KEY", default="")
# Where a referenced collector password may come from: variables with this prefix, files in these dirs.
CREDENTIALS_ENV_PREFIX = env.str("CREDENTIALS_ENV_PREFIX", default="RDB_SECRET_")
CREDENTIALS_FILE_DIRS = env.list("CREDENTIALS_FILE_DIRS", default=["/run/secrets", str(VAR_DIR / "secrets")])
DB_CONNECT_TIMEOUT_SECONDS = env.float("DB_CONNECT_TIMEOUT_SECONDS", default=5.0)
# Telemetry: how often the fleet is collected, how many servers at once, how long raw samples
# (then daily rollups, forever) and collection runs are kept.
COLLECT_INTERVAL_SECONDS = env.int("COLLECT_INTERVAL_SECONDS", default=3600)
COLLECT_WORKERS = env.int("COLLECT_WORKERS", default=16)
TELEMETRY_RAW_RETENTION_DAYS = env.int("TELEMETRY_RAW_RETENTION_DAYS", default=30)
TELEMETRY_RUN_RETENTION_DAYS = env.int("TELEMETRY_RUN_RETENTION_DAYS", default=90)

# Rolling patching (docs/patching.md): how the ssh/ansible executors log in (key auth only; host
# keys must be trusted in the admin or in the PATCH_SSH_KNOWN_HOSTS file), where playbooks live,
# the worker lease and reconcile interval, clusters patched at once, and the output cap per step.
PATCH_SSH_USER = env.str("PATCH_SSH_USER", default="root")
PATCH_SSH_KEY_PATH = env.str("PATCH_SSH_KEY_PATH", default="")
PATCH_SSH_KNOWN_HOSTS = env.str("PATCH_SSH_KNOWN_HOSTS", default="")
PATCH_SSH_PORT = env.int("PATCH_SSH_PORT", default=22)
PATCH_ANSIBLE_PROJECT_DIR = env.str("PATCH_ANSIBLE_PROJECT_DIR", default="")
PATCH_ANSIBLE_DATA_DIR = env.str("PATCH_ANSIBLE_DATA_DIR", default=str(VAR_DIR / "ansible"))
PATCH_LEASE_SECONDS = env.int("PATCH_LEASE_SECONDS", default=60)
PATCH_RECONCILE_SECONDS = env.int("PATCH_RECONCILE_SECONDS", default=30)
PATCH_MAX_PARALLEL_CLUSTERS = env.int("PATCH_MAX_PARALLEL_CLUSTERS", default=8)
PATCH_OUTPUT_HEAD_CHARS = env.int("PATCH_OUTPUT_HEAD_CHARS", default=64 * 1024)
PATCH_OUTPUT_TAIL_CHARS = env.int("PATCH_OUTPUT_TAIL_CHARS", default=64 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "rocketdbaas.core.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
