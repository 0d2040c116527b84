import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from tests.support.services import free_port

from rocketdbaas.accounts.models import ApiToken, User
from rocketdbaas.activities.models import Activity
from rocketdbaas.core.tests.processes import command_env, rocketdbaas, run
from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import Cluster, PoolStatus, Server


def call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_bootstrap_creates_admin_once(anon_api):
    first = call("bootstrap")
    password = first.split("password:")[1].split()[0]
    token = first.split("API token:")[1].split()[0]
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.role == "admin" and admin.check_password(password)
    from tests.support.fixtures import ApiClient

    me = ApiClient(token).get("/api/me").json()
    assert me == {"username": "admin", "role": "admin", "canWrite": True, "token": me["token"]}
    second = call("bootstrap")
    assert password not in second and token not in second and "exists" in second
    assert ApiToken.objects.count() == 1


@pytest.mark.django_db
def test_demo_is_idempotent():
    call("demo")
    state = (Cluster.objects.count(), Server.objects.count(), Activity.objects.count())
    assert Cluster.objects.filter(dbms_type="postgresql").count() >= 3
    assert Cluster.objects.filter(dbms_type="mongodb").count() >= 2
    assert Server.objects.filter(status=PoolStatus.FREE).count() >= 8
    call("demo")
    assert (Cluster.objects.count(), Server.objects.count(), Activity.objects.count()) == state


@pytest.mark.django_db
def test_inventory_command_prints_what_the_api_answers(viewer_api):
    call("demo")
    listed = json.loads(call("inventory", "--list", "--dbms-type", "postgresql"))
    api = viewer_api.get("/api/postgresql/clustersServers", format="ansible").json()
    assert listed == api
    everything = json.loads(call("inventory", "--list"))
    assert "postgresql" in everything and "mongodb" in everything
    host = everything["mongodb"]["hosts"][0]
    assert json.loads(call("inventory", "--host", host)) == everything["_meta"]["hostvars"][host]
    assert json.loads(call("inventory", "--host", "no-such-host")) == {}
    prod = json.loads(call("inventory", "--list", "--environment", "prod"))
    assert set(prod["_meta"]["hostvars"]) == set(prod["env_prod"]["hosts"])


@pytest.mark.django_db(transaction=True)
def test_ansible_uses_the_inventory_script(tmp_path):
    from pathlib import Path

    from django.conf import settings

    call("demo")
    script = Path(settings.PROJECT_DIR) / "scripts" / "ansible-inventory"
    ansible_inventory = Path(__import__("sys").executable).parent / "ansible-inventory"
    if not ansible_inventory.exists():
        pytest.skip("ansible-core is not installed (the 'ansible' extra)")
    env = command_env(tmp_path, ROCKETDBAAS_INVENTORY_DBMS_TYPES="mongodb", ANSIBLE_LOCAL_TEMP=str(tmp_path))
    result = subprocess.run(
        [str(ansible_inventory), "-i", str(script), "--list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout)
    mongo_hosts = set(
        Server.objects.filter(dbms_type="mongodb", status="Used").values_list("name", flat=True)
    )
    assert set(inventory["_meta"]["hostvars"]) == mongo_hosts
    assert "cluster_mongo_orders_prod" in inventory["all"]["children"]


def _wait_for(predicate, deadline_s: float, what: str):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_serve_answers_runs_a_worker_and_stops_cleanly(tmp_path, dba_user):
    """The real thing: gunicorn + a worker child; the worker's scheduler frees an expired lease."""
    services.add_pool_servers("postgresql", [services.ServerSpec("lease-1", 2, 4, 10)])
    services.pull_and_lock("postgresql", 1, cpu=1, ram=1, db_gigs=1, user=dba_user)
    Server.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=5))
    _, token = ApiToken.issue(dba_user, write=True)
    port = free_port()
    proc = subprocess.Popen(
        rocketdbaas("serve", "--port", str(port), "--workers", "1", "--threads", "2"),
        env=command_env(tmp_path, TASKS_BACKEND="db", POOL_LEASE_SWEEP_SECONDS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def get(path, **headers):
            request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 - loopback http
            with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310
                return r.status, r.read()

        def healthy():
            try:
                return get("/healthz")[0] == 200
            except (urllib.error.URLError, ConnectionError):
                return False

        _wait_for(healthy, 60, "the web server")
        status, body = get("/api/me/", Authorization=f"Bearer {token}")
        assert status == 200 and json.loads(body)["username"] == dba_user.username
        assert get("/static/vendor/htmx-2.0.11.min.js")[0] == 200
        _wait_for(lambda: Server.objects.get(name="lease-1").status == PoolStatus.FREE, 60, "the lease sweep")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert proc.returncode == 0, output
    assert "with a task worker" in output


@pytest.mark.django_db(transaction=True)
def test_worker_on_the_rq_backend_runs_periodic_jobs(tmp_path, dba_user):
    """`rocketdbaas worker` with TASKS_BACKEND=rq: the scheduler enqueues into Redis, rqworker runs it."""
    from tests.support.services import port_open, require_service

    require_service(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    services.add_pool_servers("postgresql", [services.ServerSpec("rq-lease-1", 2, 4, 10)])
    services.pull_and_lock("postgresql", 1, cpu=1, ram=1, db_gigs=1, user=dba_user)
    Server.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=5))
    # A Redis database of its own, so other runs' queues never mix with this one.
    redis_url = f"redis://127.0.0.1:6379/{abs(hash(str(tmp_path))) % 8 + 8}"
    proc = subprocess.Popen(
        rocketdbaas("worker", "--tick", "0.5"),
        env=command_env(tmp_path, TASKS_BACKEND="rq", REDIS_URL=redis_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(
            lambda: Server.objects.get(name="rq-lease-1").status == PoolStatus.FREE, 60, "the rq worker"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert "release_expired_pool_leases" in output


def test_cli_usage_errors_exit_non_zero(tmp_path):
    """Command-line errors come back as a non-zero exit, not a traceback."""
    result = run(tmp_path, "token", "frobnicate")
    assert result.returncode != 0 and "invalid choice" in result.stderr
