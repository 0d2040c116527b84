"""Run `rocketdbaas` commands as real processes against the test database."""

import os
import subprocess
import sys

from django.db import connection


def database_url() -> str:
    """A DATABASE_URL for the database the tests are using (it is committed in transactional tests)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def command_env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url(),
        ROCKETDBAAS_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="rocketdbaas.settings",
        PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
        **extra,
    )
    return env


def rocketdbaas(*args: str) -> list[str]:
    return [sys.executable, "-m", "django", *args]


def run(tmp_path, *args: str, timeout: float = 60, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        rocketdbaas(*args), env=command_env(tmp_path, **env), capture_output=True, text=True, timeout=timeout
    )
