"""Settings come only from environment variables; the defaults suit the embedded mode.

Each product setting is declared once (variable, type, default, meaning) in
rocketdbaas.core.config; this module takes them all from the environment through those
declarations and derives Django's structured settings from them.
"""

import secrets
from pathlib import Path

import environ

from rocketdbaas.core.config import from_env

_values = from_env()
globals().update(_values)

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR: Path = _values["VAR_DIR"]


def _embedded_secret_key() -> str:
    """A random key kept under var/, so sessions survive restarts of the embedded mode."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _values["SECRET_KEY"] or _embedded_secret_key()

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
    "rocketdbaas.core.errors.ApiProblemMiddleware",
    "rocketdbaas.core.middleware.ApiInputMiddleware",
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
    "default": environ.Env.db_url_config(_values["DATABASE_URL"]),
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
    DATABASES["default"]["TEST"] = {"NAME": _values["SQLITE_TEST_NAME"]}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", _values["CONN_MAX_AGE"])
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", _values["CONN_HEALTH_CHECKS"])

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
SESSION_COOKIE_SECURE = _values["SECURE_COOKIES"]
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _values["BEHIND_TLS_PROXY"] else None
SECURE_CONTENT_TYPE_NOSNIFF = True

vars().update(environ.Env.email_url_config(_values["EMAIL_URL"]))

# Jobs: the database backend works everywhere; "rq" scales out on Redis.
RQ_QUEUES = {"default": {"URL": _values["REDIS_URL"], "DEFAULT_TIMEOUT": 6 * 3600}}
TASKS = {
    "default": {
        "BACKEND": {
            "db": "django_tasks_db.DatabaseBackend",
            "rq": "django_tasks_rq.RQBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
            "dummy": "django_tasks.backends.dummy.DummyBackend",
        }[_values["TASKS_BACKEND"]],
    }
}

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
    "root": {"handlers": ["console"], "level": _values["LOG_LEVEL"]},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
