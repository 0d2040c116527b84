import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from rocketdbaas.core import scheduler
from rocketdbaas.core.config import Config, config, declarations, from_env, render_table
from rocketdbaas.core.models import PeriodicJobState

PROJECT_DIR = Path(django_settings.PROJECT_DIR)
SRC = PROJECT_DIR / "src" / "rocketdbaas"


def test_a_changed_setting_applies_to_periodic_jobs_already_registered(settings):
    import rocketdbaas.patching.tasks  # noqa: F401 - registers the jobs, as the worker does

    job = scheduler.PERIODIC_JOBS["rocketdbaas.patching.tasks.reconcile_patch_runs"]
    settings.PATCH_RECONCILE_SECONDS = 7
    assert job.every == timedelta(seconds=7)
    settings.PATCH_RECONCILE_SECONDS = 45
    assert job.every == timedelta(seconds=45)


@pytest.mark.django_db
def test_the_scheduler_plans_the_next_run_with_the_interval_in_force(settings, monkeypatch):
    import rocketdbaas.inventory.tasks as inventory_tasks

    name = inventory_tasks.release_expired_pool_leases.module_path
    job = scheduler.PERIODIC_JOBS[name]
    monkeypatch.setattr(scheduler, "PERIODIC_JOBS", {name: job})
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.POOL_LEASE_SWEEP_SECONDS = 300
    now = timezone.now()
    assert scheduler.run_due_jobs(now) == [name]
    assert PeriodicJobState.objects.get(name=name).next_run_at == now + timedelta(seconds=300)


def test_override_settings_reaches_config_at_call_time(settings):
    settings.PATCH_ANSIBLE_DATA_DIR = "/srv/ansible"
    assert config.PATCH_ANSIBLE_DATA_DIR == "/srv/ansible"
    del settings.PATCH_ANSIBLE_DATA_DIR
    # A settings module without it gets the one declared default, under the VAR_DIR in force.
    settings.VAR_DIR = Path("/srv/rdb")
    assert config.PATCH_ANSIBLE_DATA_DIR == "/srv/rdb/ansible"


def test_env_values_are_parsed_by_type():
    values = from_env(
        {
            "ROCKETDBAAS_VAR_DIR": "/data/rdb",
            "PATCH_SSH_PORT": "2222",
            "DB_CONNECT_TIMEOUT_SECONDS": "2.5",
            "DEBUG": "true",
            "SECURE_COOKIES": "0",
            "ALLOWED_HOSTS": "db.example.com,localhost",
            "CSRF_TRUSTED_ORIGINS": "",
            "PATCH_SSH_USER": "deploy",
            "PORT": "9000",
        }
    )
    assert values["VAR_DIR"] == Path("/data/rdb")
    assert values["PATCH_SSH_PORT"] == 2222
    assert values["DB_CONNECT_TIMEOUT_SECONDS"] == 2.5
    assert values["DEBUG"] is True
    assert values["SECURE_COOKIES"] is False
    assert values["ALLOWED_HOSTS"] == ["db.example.com", "localhost"]
    assert values["CSRF_TRUSTED_ORIGINS"] == []
    assert values["PATCH_SSH_USER"] == "deploy"
    assert values["WEB_PORT"] == 9000
    # Defaults under VAR_DIR follow the VAR_DIR given.
    assert values["PATCH_ANSIBLE_DATA_DIR"] == "/data/rdb/ansible"
    assert values["CREDENTIALS_FILE_DIRS"] == ["/run/secrets", "/data/rdb/secrets"]
    assert values["DATABASE_URL"] == "sqlite:////data/rdb/rocketdbaas.sqlite3"
    # Unset: the declared default.
    assert values["PATCH_LEASE_SECONDS"] == Config.PATCH_LEASE_SECONDS.default == 60


def _sample(setting, index):
    """A value of the setting's type that is not its default, as its environment variable."""
    if setting.cast is bool:
        return "false" if setting.default else "true"
    if setting.cast in (int, float):
        return str(1000 + index)
    if setting.cast is list:
        return f"a{index},b{index}"
    if setting.name == "DATABASE_URL":
        return "postgresql://rdb:secret@db.example.com:5432/rdb"
    if setting.name == "EMAIL_URL":
        return "smtp://mail.example.com:25"
    if setting.name == "TASKS_BACKEND":
        return "immediate"
    if setting.name == "LOG_LEVEL":
        return "WARNING"
    return f"/env/value-{index}"


def test_settings_module_reads_every_declared_setting_from_its_env_var(tmp_path):
    env = {s.env: _sample(s, i) for i, s in enumerate(declarations())}
    env["ROCKETDBAAS_VAR_DIR"] = str(tmp_path)
    names = [s.name for s in declarations()]
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "rocketdbaas.settings"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = json.loads(json.dumps(from_env(env), default=str))
    assert loaded == expected
    for name in ("PATCH_SSH_PORT", "COLLECT_WORKERS", "POOL_LEASE_SECONDS"):
        assert loaded[name] != Config.__dict__[name].default


def test_every_setting_is_read_through_config():
    """getattr(settings, NAME, default) would declare a second default; only config may read settings so."""
    offenders = [
        f"{path.relative_to(PROJECT_DIR)}:{number}"
        for path in SRC.rglob("*.py")
        if path not in (SRC / "core" / "config.py", Path(__file__))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "getattr(settings" in line
    ]
    assert offenders == []


def test_settings_tables_in_the_docs_match_the_declarations():
    pages = sorted({page for setting in declarations() for page in setting.pages})
    assert pages, "no settings are documented"
    for page in pages:
        text = (PROJECT_DIR / page).read_text()
        tables = re.findall(r"<!-- settings table:.*?<!-- end of settings table -->", text, re.S)
        assert tables == [render_table(page)], f"{page}: its settings table differs from core/config.py"


def _settings_in_a_new_process(tmp_path, expression: str, **env: str):
    script = f"import json, django; django.setup(); from django.conf import settings; print(json.dumps({expression}))"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env={
            **os.environ,
            "ROCKETDBAAS_VAR_DIR": str(tmp_path),
            **env,
            "DJANGO_SETTINGS_MODULE": "rocketdbaas.settings",
        },
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_postgresql_connections_persist_with_health_checks_by_default(tmp_path):
    default = _settings_in_a_new_process(
        tmp_path,
        'settings.DATABASES["default"]',
        DATABASE_URL="postgresql://rdb@db.example.com:5432/rocketdbaas",
    )
    assert default["CONN_MAX_AGE"] == Config.CONN_MAX_AGE.default > 0
    assert default["CONN_HEALTH_CHECKS"] is True
    off = _settings_in_a_new_process(
        tmp_path,
        'settings.DATABASES["default"]',
        DATABASE_URL="postgresql://rdb@db.example.com:5432/rocketdbaas",
        CONN_MAX_AGE="0",
        CONN_HEALTH_CHECKS="false",
    )
    assert (off["CONN_MAX_AGE"], off["CONN_HEALTH_CHECKS"]) == (0, False)


def test_the_access_log_goes_to_stdout_unless_switched_off(settings):
    from rocketdbaas.core.management.commands.serve import gunicorn_options

    assert gunicorn_options("127.0.0.1", 8000, 2, 8, 120)["accesslog"] == "-"
    settings.WEB_ACCESS_LOG = ""
    assert gunicorn_options("127.0.0.1", 8000, 2, 8, 120)["accesslog"] is None
    settings.WEB_ACCESS_LOG = "/var/log/rocketdbaas/access.log"
    assert gunicorn_options("127.0.0.1", 8000, 2, 8, 120)["accesslog"] == "/var/log/rocketdbaas/access.log"


def test_behind_a_tls_proxy_requests_forwarded_as_https_are_secure(tmp_path):
    assert _settings_in_a_new_process(tmp_path, "settings.SECURE_PROXY_SSL_HEADER") is None
    header = _settings_in_a_new_process(tmp_path, "settings.SECURE_PROXY_SSL_HEADER", BEHIND_TLS_PROXY="true")
    assert header == ["HTTP_X_FORWARDED_PROTO", "https"]
