"""Runs commands over SSH with asyncssh: public-key auth only, and the server's host key must be
one the admin trusts (SshKnownHost rows in the database, plus the PATCH_SSH_KNOWN_HOSTS file).
An unknown or changed host key fails the command; it is never accepted on first use."""

import asyncio
import contextlib
import logging
import queue
import threading
from pathlib import Path

import asyncssh

from rocketdbaas.core.config import config
from rocketdbaas.patching.executors.base import ExecResult, Executor, OnOutput, OutputTail

# asyncssh logs every connection at INFO; what matters is in the step's output and reason.
asyncssh.set_log_level(logging.WARNING)


def trusted_host_keys() -> str:
    """known_hosts text: the admin's entries in the database, then the configured file."""
    from rocketdbaas.patching.models import SshKnownHost

    lines = [entry.line for entry in SshKnownHost.objects.order_by("pk")]
    path = config.PATCH_SSH_KNOWN_HOSTS
    if path and Path(path).is_file():
        lines.append(Path(path).read_text())
    return "\n".join(lines)


def client_key_paths() -> list[str] | None:
    """The private key(s) to log in with; None lets asyncssh use the worker user's ~/.ssh keys."""
    path = config.PATCH_SSH_KEY_PATH
    return [path] if path else None


class SshExecutor(Executor):
    kind = "ssh"

    def __init__(self, host, known_hosts: str | None = None):
        super().__init__(host)
        self._known_hosts = known_hosts

    @property
    def known_hosts(self) -> str:
        if self._known_hosts is None:
            self._known_hosts = trusted_host_keys()
        return self._known_hosts

    def preflight(self) -> list[str]:
        problems = []
        if not self.known_hosts.strip():
            problems.append(
                "no trusted SSH host keys: add them in the admin (SSH known hosts) or PATCH_SSH_KNOWN_HOSTS"
            )
        for path in client_key_paths() or []:
            if not Path(path).is_file():
                problems.append(f"PATCH_SSH_KEY_PATH {path} does not exist on this worker")
        return problems

    def run_shell(self, command: str, *, timeout: float, on_output: OnOutput | None = None) -> ExecResult:
        # The SSH session runs in its own thread with its own event loop; output comes back through
        # a queue so on_output (which writes to the database) runs here, outside any event loop.
        chunks: queue.Queue[str | None] = queue.Queue()
        outcome: dict[str, ExecResult] = {}
        known_hosts = (
            self.known_hosts
        )  # read here: the session thread's event loop may not query the database

        def session() -> None:
            try:
                outcome["result"] = asyncio.run(self._run(command, chunks, known_hosts, timeout))
            finally:
                chunks.put(None)

        thread = threading.Thread(target=session, name=f"ssh-{self.host.name}", daemon=True)
        thread.start()
        tail = OutputTail()
        while (chunk := chunks.get()) is not None:
            tail.add(chunk)
            if on_output:
                on_output(chunk)
        thread.join()
        result = outcome.get("result") or ExecResult(None, error="ssh session ended unexpectedly")
        result.output = tail.text
        return result

    async def _run(
        self, command: str, chunks: "queue.Queue[str | None]", known_hosts: str, timeout: float
    ) -> ExecResult:
        where = f"{self.host.address}:{self.host.ssh_port}"
        try:
            return await self._session(command, chunks, known_hosts, timeout)
        except TimeoutError:
            return ExecResult(None, error=f"ssh connection to {where} timed out")
        except asyncssh.HostKeyNotVerifiable as exc:
            return ExecResult(
                None,
                error=f"host key of {where} is not trusted ({exc.reason}); add it to the SSH known hosts",
            )
        except asyncssh.PermissionDenied:
            return ExecResult(None, error=f"ssh login as {self.host.ssh_user} was refused (key auth)")
        except (OSError, asyncssh.Error) as exc:
            return ExecResult(None, error=f"ssh to {where} failed: {exc}")

    async def _session(
        self, command: str, chunks: "queue.Queue[str | None]", known_hosts: str, timeout: float
    ) -> ExecResult:
        deadline = asyncio.get_running_loop().time() + timeout
        conn = await asyncssh.connect(
            self.host.address,
            port=self.host.ssh_port,
            username=self.host.ssh_user,
            known_hosts=asyncssh.import_known_hosts(known_hosts),
            client_keys=client_key_paths(),
            ignore_encrypted=True,
            agent_path=None,
            password_auth=False,
            kbdint_auth=False,
            config=[],
            connect_timeout=min(timeout, config.PATCH_SSH_CONNECT_TIMEOUT),
        )
        try:
            proc = await conn.create_process(command, stderr=asyncssh.STDOUT, errors="replace")

            async def pump() -> None:
                while chunk := await proc.stdout.read(65536):
                    chunks.put(chunk)
                await proc.wait()

            try:
                await asyncio.wait_for(pump(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except TimeoutError:
                # Ask the remote command to stop, and do not wait for it: drop the connection.
                with contextlib.suppress(Exception):
                    proc.kill()
                conn.abort()
                return ExecResult(None, error=f"timed out after {timeout:g}s")
            if proc.exit_signal is not None:
                return ExecResult(None, error=f"killed by signal {proc.exit_signal[0]}")
            return ExecResult(proc.exit_status)
        finally:
            conn.close()
