"""The runtime install (`make run`) carries no development or test tools."""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from django.conf import settings
from tests.support.services import require_service

PROJECT_DIR = Path(settings.PROJECT_DIR)
# Named here as well as read from the dev group, so moving one of them into the runtime
# dependencies fails too.
NEVER_AT_RUNTIME = {"pytest", "pytest-django", "pytest-xdist", "mypy", "ruff", "playwright", "schemathesis"}


def _normalized(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def runtime_packages() -> set[str]:
    """The packages `make run` installs, as uv exports them from the lock file."""
    uv = shutil.which("uv") or str(PROJECT_DIR / ".tools" / "bin" / "uv")
    require_service(Path(uv).exists() and shutil.which("make") is not None, "uv or make is not installed")
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "runtime-packages", f"UV={uv}"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return {_normalized(line) for line in out.splitlines() if line.strip() and not line.startswith("#")}


def test_the_runtime_install_has_the_server_and_no_development_tools():
    packages = runtime_packages()
    assert {"django", "gunicorn", "psycopg", "django-tasks-db", "ansible-runner"} <= packages
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    dev_tools = {_normalized(req) for req in pyproject["dependency-groups"]["dev"]} | NEVER_AT_RUNTIME
    assert not packages & dev_tools
