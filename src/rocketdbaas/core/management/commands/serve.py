"""`rocketdbaas serve`: gunicorn (threads) serving the UI and API, plus a task worker."""

import os
import signal
import subprocess
import sys

from django.core.management.base import BaseCommand
from django.db import connections

from rocketdbaas.core.config import config


def gunicorn_options(host: str, port: int, workers: int, threads: int, timeout: int) -> dict:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": timeout,
        "graceful_timeout": 30,
        "accesslog": config.WEB_ACCESS_LOG or None,
        "errorlog": "-",
        "proc_name": "rocketdbaas",
    }


class Command(BaseCommand):
    help = "Serve the web UI and API with gunicorn and, unless --no-worker, run a task worker beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=config.WEB_HOST)
        parser.add_argument("--port", type=int, default=config.WEB_PORT)
        parser.add_argument(
            "--no-worker", action="store_true", help="Web only (run `rocketdbaas worker` elsewhere)."
        )
        parser.add_argument("--workers", type=int, default=config.WEB_WORKERS)
        parser.add_argument("--threads", type=int, default=config.WEB_THREADS)
        parser.add_argument(
            "--timeout", type=int, default=120, help="Seconds before a stuck request is killed."
        )

    def handle(self, *args, host, port, no_worker, workers, threads, timeout, **options):
        from gunicorn.app.base import BaseApplication

        options_ = gunicorn_options(host, port, workers, threads, timeout)

        class WebServer(BaseApplication):
            def load_config(self):
                for key, value in options_.items():
                    self.cfg.set(key, value)

            def load(self):
                from rocketdbaas.wsgi import application

                return application

        # Forked web workers must not share this process's database connections.
        connections.close_all()
        worker = None
        if not no_worker:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "rocketdbaas.settings"),
            }
            worker = subprocess.Popen([sys.executable, "-m", "django", "worker"], env=env)
        serving = f"Serving on http://{host}:{port}/"
        if worker is not None:
            serving += f" with a task worker (pid {worker.pid})"
        self.stdout.write(serving)
        try:
            # gunicorn handles SIGTERM/SIGINT itself (graceful stop) and then exits with SystemExit.
            WebServer().run()
        finally:
            if worker is not None:
                _stop(worker)


def _stop(process: subprocess.Popen, grace: float = 30.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
