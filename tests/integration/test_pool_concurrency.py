"""Many callers pulling and locking from one pool at once, through the whole HTTP stack, on the
suite's database (SQLite, then PostgreSQL): no server is ever handed to two callers, the counts
add up, nothing deadlocks."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from rocketdbaas.activities.models import Activity
from rocketdbaas.inventory import services
from rocketdbaas.inventory.models import PoolStatus, Server
from tests.support.fixtures import make_client, make_user

THREADS = 16
ROUNDS = 25  # per thread: 400 pulls in all
POOL_SIZE = 64


@pytest.mark.django_db(transaction=True)
def test_concurrent_pull_and_lock_never_hands_a_server_twice():
    services.add_pool_servers(
        "postgresql",
        [
            services.ServerSpec(f"conc-{i:03d}", cpu=random.choice([2, 4, 8]), ram=16, db_gigs=100)
            for i in range(POOL_SIZE)
        ],
    )
    activities_before = Activity.objects.count()
    clients = [make_client(make_user(f"puller-{i}", "dba")) for i in range(THREADS)]
    connection.close()  # the threads open their own

    holder: dict[str, int] = {}  # server -> thread currently holding it
    holder_lock = threading.Lock()
    outcomes: Counter = Counter()
    errors: list[str] = []
    barrier = threading.Barrier(THREADS)

    def caller(me: int) -> None:
        api = clients[me]
        rng = random.Random(me)
        held: list[str] = []
        try:
            barrier.wait(timeout=60)
            for _ in range(ROUNDS):
                n = rng.randint(1, 4)
                response = api.post(
                    f"/api/postgresql/poolServersPullAndLock/{n}", cpu=rng.choice([1, 4]), ram=8, dbGigs=50
                )
                if response.status_code == 409:
                    outcomes["not enough"] += 1
                elif response.status_code == 200:
                    names = [s["serverName"] for s in response.json()["servers"]]
                    if len(names) != n:
                        errors.append(f"asked {n}, got {names}")
                    with holder_lock:
                        for name in names:
                            if name in holder:
                                errors.append(f"{name} handed to {me} while held by {holder[name]}")
                            holder[name] = me
                    held.extend(names)
                    outcomes["locked"] += 1
                    outcomes["servers locked"] += n
                else:
                    errors.append(f"pull: {response.status_code} {response.content[:200]!r}")
                # Release about half of what is held, so the pool keeps churning.
                rng.shuffle(held)
                while held and rng.random() < 0.5:
                    name = held.pop()
                    with holder_lock:
                        del holder[name]  # before the release commits, so a re-pull is never a false alarm
                    response = api.patch(f"/api/postgresql/poolServers/{name}", json={"status": "Free"})
                    if response.status_code != 200:
                        errors.append(f"release {name}: {response.status_code} {response.content[:200]!r}")
                    outcomes["released"] += 1
        except Exception as exc:
            errors.append(f"thread {me}: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=caller, args=(i,), name=f"puller-{i}") for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not [t.name for t in threads if t.is_alive()], "callers still running: deadlock?"
    assert not errors, errors[:10]

    assert outcomes["locked"] + outcomes["not enough"] == THREADS * ROUNDS
    assert outcomes["locked"] > THREADS * ROUNDS // 4  # contended, yet not empty all along
    statuses = Counter(Server.objects.values_list("status", flat=True))
    assert sum(statuses.values()) == POOL_SIZE
    assert statuses[PoolStatus.LOCKED] == len(holder)
    locked = dict(Server.objects.filter(status=PoolStatus.LOCKED).values_list("name", "locked_by__username"))
    assert locked == {name: f"puller-{me}" for name, me in holder.items()}
    # One audit row per server locked and per release, none lost, none doubled.
    assert Activity.objects.count() - activities_before == outcomes["servers locked"] + outcomes["released"]
