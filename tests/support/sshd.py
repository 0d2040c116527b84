"""A real OpenSSH sshd on a free loopback port, for the SSH executor's tests.

It runs from a temporary directory with its own host key, accepts one client key (public-key
auth only) for the current user, and writes the host key as a known_hosts line
(`[127.0.0.1]:PORT ssh-ed25519 …`) so tests keep host-key checking on.
"""

import getpass
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncssh

from tests.support.services import free_port, port_open

SSHD = Path(os.environ.get("SSHD_BIN", "/usr/sbin/sshd"))
SFTP_SERVER = "/usr/lib/openssh/sftp-server"  # Ansible copies its modules over sftp


def sshd_available() -> bool:
    return SSHD.exists()


def _write_key(path: Path) -> asyncssh.SSHKey:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(str(path))
    path.chmod(0o600)
    key.write_public_key(str(path) + ".pub")
    return key


class Sshd:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="rdb-sshd-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.user = getpass.getuser()
        host_key = _write_key(self.root / "host_ed25519")
        client_key = _write_key(self.root / "client_ed25519")
        self.client_key_path = str(self.root / "client_ed25519")
        (self.root / "authorized_keys").write_text(client_key.export_public_key().decode())
        self.host_key_line = f"[127.0.0.1]:{self.port} {host_key.export_public_key().decode().strip()}"
        self.known_hosts_path = self.root / "known_hosts"
        self.known_hosts_path.write_text(self.host_key_line + "\n")
        config = self.root / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {self.root / 'host_ed25519'}",
                    f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    "LogLevel ERROR",
                    f"Subsystem sftp {SFTP_SERVER}",
                    "",
                ]
            )
        )
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.log = open(self.root / "sshd.log", "w")  # noqa: SIM115 - open while sshd runs
        self.process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", self.port, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {(self.root / 'sshd.log').read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
