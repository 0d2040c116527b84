"""Real PostgreSQL instances for tests: a primary and streaming replicas on free loopback ports.

PostgreSQL refuses to run as root, so every server binary runs as the `postgres` user in a
temporary directory that user owns; the unix socket lives there too.
"""

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.support.services import free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def pg_available() -> bool:
    return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None


def _as_postgres(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = list(args)
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


@dataclass
class PgInstance:
    name: str
    datadir: Path
    port: int
    logfile: Path
    extra_conf: dict = field(default_factory=dict)

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=5"

    def start(self) -> None:
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        )

    def promote(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-w", "promote")

    def is_running(self) -> bool:
        return (
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "status", check=False).returncode
            == 0
        )

    def connect(self, dbname: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.dsn.replace("dbname=postgres", f"dbname={dbname}"), autocommit=autocommit)

    def query(self, sql: str, params=None, dbname: str = "postgres"):
        with self.connect(dbname) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else None


class PgCluster:
    """A primary with `replicas` streaming replicas, all on loopback, built from scratch."""

    def __init__(self, replicas: int = 1, extra_conf: dict | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="rdb-pg-"))
        self.root.chmod(0o777)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.extra_conf = extra_conf or {}
        self.primary = self._init_primary()
        self.replicas = [self._add_replica(i + 1) for i in range(replicas)]

    @property
    def members(self) -> list[PgInstance]:
        return [self.primary, *self.replicas]

    def _conf_lines(self, port: int) -> str:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.root}'",
            "wal_level": "replica",
            "max_wal_senders": "10",
            "hot_standby": "on",
            "fsync": "off",
            "shared_buffers": "16MB",
            **self.extra_conf,
        }
        return "".join(f"{k} = {v}\n" for k, v in settings.items())

    def _init_primary(self) -> PgInstance:
        datadir = self.root / "primary"
        _as_postgres(
            str(PG_BIN / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        port = free_port()
        with open(datadir / "postgresql.conf", "a") as conf:
            conf.write(self._conf_lines(port))
        with open(datadir / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        inst = PgInstance("primary", datadir, port, self.root / "primary.log")
        inst.start()
        return inst

    def _add_replica(self, index: int) -> PgInstance:
        datadir = self.root / f"replica{index}"
        _as_postgres(
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary.port),
            "-U",
            "postgres",
            "-D",
            str(datadir),
            "-R",
            "-X",
            "stream",
            "--no-sync",
        )
        port = free_port()
        with open(datadir / "postgresql.conf", "a") as conf:
            conf.write(f"port = {port}\n")
        inst = PgInstance(f"replica{index}", datadir, port, self.root / f"replica{index}.log")
        inst.start()
        return inst

    def wait_replicas_streaming(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.primary.query("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            if rows and rows[0][0] >= len(self.replicas):
                return
            time.sleep(0.1)
        raise TimeoutError("replicas did not start streaming")

    def destroy(self) -> None:
        for inst in self.members:
            inst.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
