"""Shared set-up for the benchmarks: a throwaway PostgreSQL database, Django, a real server."""

import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent


def bench_database_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/rocketdbaas_bench")
    if not url.startswith("postgres"):
        sys.exit("The benchmarks run on PostgreSQL: set BENCH_DATABASE_URL=postgresql://…")
    return url


def admin_dsn(url: str) -> str:
    u = urlparse(url)
    return f"host={u.hostname} port={u.port or 5432} user={u.username or 'postgres'} dbname=postgres" + (
        f" password={u.password}" if u.password else ""
    )


def psycopg_dsn(url: str) -> str:
    u = urlparse(url)
    return admin_dsn(url).replace("dbname=postgres", f"dbname={u.path.lstrip('/')}")


def fresh_database(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(admin_dsn(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(admin_dsn(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(url: str, var_dir: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["ROCKETDBAAS_VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rocketdbaas.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextmanager
def web_server(port: int, workers: int, threads: int, var_dir: str):
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django",
            "serve",
            "--no-worker",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def machine() -> str:
    cpus = os.cpu_count()
    mem = ""
    try:
        with open("/proc/meminfo") as meminfo:
            kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    with psycopg.connect(admin_dsn(bench_database_url())) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return f"{platform.machine()}, {cpus} cores{mem}, Linux {platform.release()}, Python {platform.python_version()}, PostgreSQL {pg}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)
